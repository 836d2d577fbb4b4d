package qemu_test

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/testutil"
)

// virshEvents is `virsh event --all --loop` on uri, stopped at the
// test's end.
func virshEvents(t *testing.T, uri string) *testutil.SyncBuffer {
	out := &testutil.SyncBuffer{}
	cmd := exec.Command("virsh", "-c", uri, "event", "--all", "--loop")
	cmd.Env = append(os.Environ(), "LIBVIRT_AUTOSTART=0")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(hang):
			cmd.Process.Kill()
			<-done
		}
	})
	return out
}

// metadataRegion is the part of a dumpxml from <title> (or
// <description>, <metadata>) to </metadata>: what the metadata calls
// change.
var metadataRegion = regexp.MustCompile(`(?s)\n\s*<(title|description|metadata)>.*(</metadata>|</description>|</title>)`)

const metaDomainXML = `<domain type='qemu'>
  <name>meta</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <metadata>
    <app1:foo xmlns:app1="http://app1.example.org/">bar</app1:foo>
  </metadata>
</domain>
`

// TestMetadataDifferential: the same real virsh desc and metadata
// steps against govirtd and a private libvirtd 9.0, on a defined domain
// (its persistent definition) and then running (live and config): every
// step's status and output must be the same (but the parser's message
// for malformed XML, which is libxml2's on libvirtd), and so must the
// metadata-change events virsh event prints.
func TestMetadataDifferential(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	lvURI := startPrivLibvirtd(t, d.path("libvirtd"), "").uri()
	def := d.path("meta.xml")
	if err := os.WriteFile(def, []byte(metaDomainXML), 0o644); err != nil {
		t.Fatal(err)
	}
	gvEvents, lvEvents := virshEvents(t, d.uri()), virshEvents(t, lvURI)
	steps := [][]string{
		{"define", def},
		{"desc", "meta"},
		{"desc", "meta", "--title"},
		{"desc", "meta", "--config", "hello world"},
		{"desc", "meta"},
		{"desc", "meta", "--config"},
		{"desc", "meta", "--title", "--config", "My title"},
		{"desc", "meta", "--title"},
		{"desc", "meta", "--title", "a\nb"},
		{"desc", "meta", "--live", "not running"},
		{"metadata", "meta", "http://app1.example.org/"},
		{"metadata", "meta", "http://app2.example.org/"},
		{"metadata", "meta", "http://app2.example.org/", "--key", "app2", "--set", `<thing a="1" b='x&amp;y'><x/><y>text &lt; more</y><z><w/></z></thing>`, "--config"},
		{"metadata", "meta", "http://app2.example.org/"},
		{"metadata", "meta", "http://app2.example.org/", "--config"},
		{"dumpxml", "--inactive", "meta"},
		{"metadata", "meta", "http://app1.example.org/", "--key", "app1", "--set", `<foo>changed</foo>`},
		{"metadata", "meta", "http://app1.example.org/"},
		{"dumpxml", "meta"},
		{"metadata", "meta", "http://app2.example.org/", "--remove", "--config"},
		{"metadata", "meta", "http://app2.example.org/"},
		{"metadata", "meta", "http://app2.example.org/", "--remove"},
		{"metadata", "meta", "http://app4.example.org/", "--key", "app4", "--set", `<a/><b/>`},
		{"start", "meta"},
		{"desc", "meta"},
		{"desc", "meta", "--live", "live words"},
		{"desc", "meta"},
		{"desc", "meta", "--config"},
		{"desc", "meta", "--live"},
		{"desc", "meta", "--title", "--live", "--config", "Both"},
		{"desc", "meta", "--title", "--config"},
		{"desc", "meta", "--title", "--live"},
		{"metadata", "meta", "http://app3.example.org/", "--key", "a3", "--set", "<v>1</v>", "--live"},
		{"metadata", "meta", "http://app3.example.org/"},
		{"metadata", "meta", "http://app3.example.org/", "--config"},
		{"dumpxml", "meta"},
		{"destroy", "meta"},
		{"desc", "meta"},
		{"desc", "meta", "--title"},
		{"metadata", "meta", "http://app3.example.org/"},
		{"metadata", "meta", "http://sentinel.example.org/", "--key", "s", "--set", "<end/>"},
		{"undefine", "meta"},
	}
	// The malformed element is refused by both, each in its parser's
	// words.
	parserMessage := map[int]bool{22: true}
	for i, step := range steps {
		gv, lv := virshOn(d.uri(), step...), virshOn(lvURI, step...)
		if step[0] == "dumpxml" {
			gv, lv = metadataRegion.FindString(gv), metadataRegion.FindString(lv)
			if lv == "" {
				t.Fatalf("step %d: no metadata in libvirtd's dumpxml", i)
			}
		}
		if parserMessage[i] {
			gv, lv = strings.SplitN(gv, "\n", 2)[0], strings.SplitN(lv, "\n", 2)[0]
		}
		if gv != lv {
			t.Errorf("step %d: virsh %q\ngovirtd:\n%s\nlibvirtd:\n%s", i, step, gv, lv)
		}
	}

	metaEvents := func(b *testutil.SyncBuffer) []string {
		var out []string
		for _, l := range strings.Split(b.String(), "\n") {
			if strings.Contains(l, "'metadata-change'") {
				out = append(out, l)
			}
		}
		return out
	}
	deadline := time.Now().Add(hang)
	for !strings.Contains(gvEvents.String(), "sentinel") || !strings.Contains(lvEvents.String(), "sentinel") {
		if time.Now().After(deadline) {
			t.Fatalf("no metadata-change event for the last step:\ngovirtd:\n%s\nlibvirtd:\n%s", gvEvents, lvEvents)
		}
		time.Sleep(20 * time.Millisecond)
	}
	gv, lv := metaEvents(gvEvents), metaEvents(lvEvents)
	if strings.Join(gv, "\n") != strings.Join(lv, "\n") || len(lv) < 10 {
		t.Errorf("metadata-change events:\ngovirtd:\n%s\nlibvirtd:\n%s", strings.Join(gv, "\n"), strings.Join(lv, "\n"))
	}
}
