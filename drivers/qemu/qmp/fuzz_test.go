package qmp

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

const fuzzGreeting = `{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": ""}, "capabilities": ["oob"]}}` + "\n"

// FuzzReader feeds arbitrary bytes from "qemu" after the greeting and the
// reply to qmp_capabilities: the monitor must neither panic nor hang.
func FuzzReader(f *testing.F) {
	f.Add([]byte(`{"return": {}, "id": 2}` + "\n"))
	f.Add([]byte(`{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}` + "\n"))
	f.Add([]byte(`{"error": {"class": "GenericError", "desc": "x"}}` + "\n"))
	f.Add([]byte(`{"return": {"status": "running"}, "id": "x"}` + "\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server := net.Pipe()
		defer client.Close()
		go func() {
			defer server.Close()
			go io.Copy(io.Discard, server)
			server.Write([]byte(fuzzGreeting + `{"return": {}, "id": 1}` + "\n"))
			server.Write(data)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		m, err := Connect(ctx, client, Options{OnEvent: func(Event) {}})
		if err != nil {
			return
		}
		m.Execute(ctx, "query-status", nil, new(any))
		m.Close()
	})
}
