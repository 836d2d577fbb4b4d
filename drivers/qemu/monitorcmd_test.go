package qemu

import (
	"context"
	"strings"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// TestMonitorCommand: virDomainQemuMonitorCommand passes a QMP command
// to the running guest's qemu and answers qemu's reply, an error reply
// included; --hmp runs a human monitor command; what is no single QMP
// command, unknown flags and a stopped guest are refused.
func TestMonitorCommand(t *testing.T) {
	_, c := testDriver(t)
	ctx := context.Background()
	ev := recordEvents(t, c)
	dom, _ := startDemo(t, c, ev)
	hmp := uint32(vir.DomainQEMUMonitorCommandHmp)

	for _, tc := range []struct {
		cmd   string
		flags uint32
		want  string
	}{
		{`{"execute":"query-status"}`, 0, `{"return":{"status":"running","singlestep":false,"running":true}}`},
		{` { "execute" : "query-status", "arguments" : { } } `, 0, `{"return":{"status":"running","singlestep":false,"running":true}}`},
		{`{"execute":"no-such"}`, 0, `{"error":{"class":"CommandNotFound","desc":"The command no-such has not been found"}}`},
		{`{"execute":"query-status","arguments":[1]}`, 0, `{"error":{"class":"GenericError","desc":"QMP input member 'arguments' must be an object"}}`},
		{"info status", hmp, "VM status: running\r\n"},
	} {
		got, err := c.QemuDomainMonitorCommand(ctx, dom, tc.cmd, tc.flags)
		if err != nil || got != tc.want {
			t.Errorf("monitor command %s (flags %d): %q, %v; want %q", tc.cmd, tc.flags, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		cmd   string
		flags uint32
		code  vir.ErrorNumber
		words string
	}{
		{`query-status`, 0, vir.ErrInternalError, "cannot parse json"},
		{`{"arguments":{}}`, 0, vir.ErrInvalidArg, `no "execute"`},
		{`{"execute":"query-status","id":"mine"}`, 0, vir.ErrArgumentUnsupported, `"id"`},
		{`{"execute":"query-status"}`, 2, vir.ErrInvalidArg, "unsupported flags"},
	} {
		_, err := c.QemuDomainMonitorCommand(ctx, dom, tc.cmd, tc.flags)
		if drivers.CodeOf(err) != tc.code || err == nil || !strings.Contains(err.Error(), tc.words) {
			t.Errorf("monitor command %s (flags %d): %v; want code %v saying %s", tc.cmd, tc.flags, err, tc.code, tc.words)
		}
	}
	if err := c.DomainDestroy(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Stopped Destroyed")
	if _, err := c.QemuDomainMonitorCommand(ctx, dom, `{"execute":"query-status"}`, 0); drivers.CodeOf(err) != vir.ErrOperationInvalid {
		t.Errorf("monitor command on a stopped guest: %v, want VIR_ERR_OPERATION_INVALID", err)
	}
}
