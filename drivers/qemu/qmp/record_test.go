package qmp

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var record = flag.Bool("record", false, "record the transcripts of testdata/qemu/qmp from the real qemu")

// TestRecord runs every scenario against a real qemu through a proxy that
// writes down each message, to testdata/qemu/qmp/NAME.txt. It runs only
// with -record: go test ./drivers/qemu/qmp -run Record -record
func TestRecord(t *testing.T) {
	if !*record {
		t.Skip("records only with -record")
	}
	bin, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		t.Fatal("no qemu-system-x86_64: `make deps` installs it")
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) { recordScenario(t, bin, s) })
	}
}

func recordScenario(t *testing.T, bin string, s scenario) {
	dir := t.TempDir()
	qsock, psock := filepath.Join(dir, "qemu.sock"), filepath.Join(dir, "proxy.sock")
	cmd := exec.Command(bin, "-machine", "q35", "-accel", "tcg", "-m", "64", "-nodefaults", "-no-user-config",
		"-display", "none", "-S", "-no-shutdown", "-qmp", "unix:"+qsock+",server=on,wait=off")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if _, err := os.Stat(qsock); err == nil {
			break
		} else if i > 500 {
			t.Fatal("qemu made no monitor socket")
		}
		time.Sleep(10 * time.Millisecond)
	}
	rec := &recorder{}
	rec.printf("# %s: recorded from %s with go test ./drivers/qemu/qmp -run Record -record\n", s.name, bin)
	l, err := net.Listen("unix", psock)
	if err != nil {
		t.Fatal(err)
	}
	go rec.proxy(t, l, qsock)
	events := newEventLog()
	m, err := Dial(testCtx(t), psock, Options{OnEvent: events.on})
	if err != nil {
		t.Fatal(err)
	}
	s.run(t, m, events, &realPeer{rec, cmd.Process})
	m.Close()
	rec.wg.Wait()
	if err := os.WriteFile(filepath.Join(transcriptDir, s.name+".txt"), []byte(rec.buf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

type recorder struct {
	mu  sync.Mutex
	buf strings.Builder
	wg  sync.WaitGroup
}

func (r *recorder) printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(&r.buf, format, args...)
}

// proxy relays one client to qemu, line by line, writing each line down.
func (r *recorder) proxy(t *testing.T, l net.Listener, qsock string) {
	defer l.Close()
	c, err := l.Accept()
	if err != nil {
		return
	}
	q, err := net.Dial("unix", qsock)
	if err != nil {
		t.Error(err)
		c.Close()
		return
	}
	r.wg.Add(1)
	go func() { // qemu -> client
		defer r.wg.Done()
		s := bufio.NewScanner(q)
		s.Buffer(nil, 1<<20)
		for s.Scan() {
			r.printf("< %s\n", s.Text())
			c.Write(append(s.Bytes(), '\n'))
		}
		r.printf("! eof\n")
		c.Close()
	}()
	s := bufio.NewScanner(c) // client -> qemu
	for s.Scan() {
		r.printf("> %s\n", s.Text())
		q.Write(append(s.Bytes(), '\n'))
	}
	q.Close()
}

type realPeer struct {
	rec *recorder
	p   *os.Process
}

func (p *realPeer) Signal(sig syscall.Signal) {
	p.rec.printf("! signal %s\n", map[syscall.Signal]string{syscall.SIGTERM: "TERM", syscall.SIGKILL: "KILL"}[sig])
	p.p.Signal(sig)
}
