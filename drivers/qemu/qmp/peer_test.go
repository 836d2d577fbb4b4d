package qmp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A transcript is an exchange with qemu as the recorder (record_test.go)
// saw it, one message a line:
//
//	< {...}        qemu sent this
//	> {...}        the client sent this
//	! eof          qemu closed the connection
//	! signal TERM  the recorder signalled qemu (nothing to replay)
//	! hang         qemu answers nothing more (hand-written cases)
//	# ...          a comment
type step struct {
	dir  byte // '<', '>' or '!'
	text string
}

const transcriptDir = "../../../testdata/qemu/qmp"

func loadTranscript(t *testing.T, name string) []step {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(transcriptDir, name+".txt"))
	if err != nil {
		t.Fatalf("%v (record it with: go test ./drivers/qemu/qmp -run Record -record)", err)
	}
	var steps []step
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		if len(line) < 3 || !strings.ContainsRune("<>!", rune(line[0])) || line[1] != ' ' {
			t.Fatalf("%s: malformed transcript line %q", name, line)
		}
		steps = append(steps, step{line[0], line[2:]})
	}
	return steps
}

// fakePeer plays qemu's side of a transcript on a unix socket: it sends
// what qemu sent, checks that the client sends what the client sent
// (ids aside: the recorded ids are mapped to the ones the client uses)
// and closes the connection where qemu did.
type fakePeer struct {
	t     *testing.T
	path  string
	steps []step
	ids   map[string]json.RawMessage // recorded id -> the client's id
	done  chan error
}

func startFake(t *testing.T, steps []step) *fakePeer {
	t.Helper()
	dir, err := os.MkdirTemp("", "qmp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := &fakePeer{t: t, path: filepath.Join(dir, "qmp.sock"), steps: steps, ids: map[string]json.RawMessage{}, done: make(chan error, 1)}
	l, err := net.Listen("unix", p.path)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer l.Close()
		c, err := l.Accept()
		if err != nil {
			p.done <- err
			return
		}
		defer c.Close()
		p.done <- p.play(c)
	}()
	return p
}

func (p *fakePeer) play(c net.Conn) error {
	r := bufio.NewReader(c)
	for i, s := range p.steps {
		switch {
		case s.dir == '<':
			if _, err := c.Write([]byte(p.mapIDs(s.text) + "\n")); err != nil {
				return fmt.Errorf("step %d: write: %v", i+1, err)
			}
		case s.dir == '>':
			line, err := r.ReadString('\n')
			if err != nil {
				return fmt.Errorf("step %d: expected %s, read: %v", i+1, s.text, err)
			}
			if err := p.match(s.text, line); err != nil {
				return fmt.Errorf("step %d: %v", i+1, err)
			}
		case s.text == "eof":
			return nil
		case s.text == "hang":
			r.ReadString(0) // until the client closes
			return nil
		}
	}
	r.ReadString(0)
	return nil
}

// match compares a client message with the recorded one, ids aside, and
// remembers the client's id for the replies.
func (p *fakePeer) match(want, got string) error {
	var w, g map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		return fmt.Errorf("transcript: %v", err)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		return fmt.Errorf("client sent malformed JSON %q: %v", got, err)
	}
	wid, _ := json.Marshal(w["id"])
	gid, _ := json.Marshal(g["id"])
	p.ids[string(wid)] = gid
	delete(w, "id")
	delete(g, "id")
	if !reflect.DeepEqual(w, g) {
		return fmt.Errorf("client sent %s, transcript has %s", strings.TrimSpace(got), want)
	}
	return nil
}

// mapIDs replaces a recorded id in a reply by the client's.
func (p *fakePeer) mapIDs(line string) string {
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(line), &m) != nil {
		return line // sent as recorded, malformed on purpose
	}
	id, ok := m["id"]
	if !ok {
		return line
	}
	if mapped, ok := p.ids[string(bytes.TrimSpace(id))]; ok {
		m["id"] = mapped
	}
	out, _ := json.Marshal(m)
	return string(out)
}

// wait returns the peer's verdict once the client closed.
func (p *fakePeer) wait() error { return <-p.done }
