package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/govirt/govirtd/internal/testutil"
)

// requireBinary returns a real program the tests drive; see
// testutil.RequireBinary.
func requireBinary(t testing.TB, name, pkg string) string {
	return testutil.RequireBinary(t, name, pkg)
}

// virshResult is what one virsh run printed and how it exited.
type virshResult struct {
	args           []string
	stdout, stderr string
	code           int
}

// runVirsh runs the real virsh against uri. A virsh that hangs is killed
// after a minute, so the test fails with what it printed instead of
// stalling the suite.
func runVirsh(t testing.TB, uri string, args ...string) virshResult {
	t.Helper()
	bin := requireBinary(t, "virsh", "libvirt-clients")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-c", uri}, args...)...)
	cmd.Env = append(os.Environ(), "LIBVIRT_AUTOSTART=0", "LC_ALL=C", "HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("virsh %s hung and was killed\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out.String(), errb.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("virsh %s: %v", strings.Join(args, " "), err)
	}
	return virshResult{args: args, stdout: out.String(), stderr: errb.String(), code: code}
}

func (r virshResult) String() string {
	return "virsh " + strings.Join(r.args, " ") + "\n--- stdout:\n" + r.stdout + "--- stderr:\n" + r.stderr
}

// ok asserts exit status 0 and that stdout contains every want.
func (r virshResult) ok(t testing.TB, want ...string) virshResult {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit status %d, want 0\n%s", r.code, r)
	}
	for _, w := range want {
		if !strings.Contains(r.stdout, w) {
			t.Fatalf("stdout lacks %q\n%s", w, r)
		}
	}
	return r
}

// fails asserts exit status 1 and that stderr contains every want.
func (r virshResult) fails(t testing.TB, want ...string) {
	t.Helper()
	if r.code != 1 {
		t.Fatalf("exit status %d, want 1\n%s", r.code, r)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Fatalf("stderr lacks %q\n%s", w, r)
		}
	}
}

// lines asserts stdout is exactly want, line by line, ignoring trailing
// blank lines.
func (r virshResult) lines(t testing.TB, want ...string) {
	t.Helper()
	r.ok(t)
	got := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stdout:\n%s\nwant:\n%s\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), r)
	}
}

// listed asserts stdout is virsh's domain table with exactly rows (the
// dashes under the header are as wide as the widest state).
func (r virshResult) listed(t testing.TB, rows ...string) {
	t.Helper()
	r.ok(t)
	got := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	if len(got) < 2 || got[0] != " Id   Name   State" || strings.Trim(got[1], "-") != "" {
		t.Fatalf("no domain table header\n%s", r)
	}
	if strings.Join(got[2:], "\n") != strings.Join(rows, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s\n%s", strings.Join(got[2:], "\n"), strings.Join(rows, "\n"), r)
	}
}

func testdata(name string) string {
	p, err := filepath.Abs(filepath.Join("..", "testdata", "domains", name))
	if err != nil {
		panic(err)
	}
	return p
}

const demoUUID = "0b0e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b"

// TestVirshLifecycle drives real virsh 9.0 through every command of the
// foundation's subset: a full lifecycle of testdata/domains/demo.xml,
// errors included.
func TestVirshLifecycle(t *testing.T) {
	d := startDaemon(t, nil)
	v := func(args ...string) virshResult { return runVirsh(t, d.URI(), args...) }
	v("list", "--all").lines(t, " Id   Name   State", "----------------------", " 1    test   running")
	v("define", testdata("demo.xml")).ok(t, "Domain 'demo' defined from "+testdata("demo.xml"))
	v("list", "--all").listed(t, " 1    test   running", " -    demo   shut off")
	v("dominfo", "demo").ok(t,
		"Id:             -\n", "Name:           demo\n", "UUID:           "+demoUUID+"\n",
		"OS Type:        linux\n", "State:          shut off\n", "CPU(s):         2\n",
		"Max memory:     524288 KiB\n", "Used memory:    262144 KiB\n",
		"Persistent:     yes\n", "Autostart:      disable\n", "Managed save:   no\n")
	v("domstate", "demo", "--reason").lines(t, "shut off (unknown)")
	v("domid", "demo").lines(t, "-")
	v("domuuid", "demo").lines(t, demoUUID)
	v("domname", demoUUID).lines(t, "demo")

	v("start", "demo").lines(t, "Domain 'demo' started")
	v("start", "demo").fails(t, "error: Domain is already active")
	v("domid", "demo").lines(t, "2")
	v("domname", "2").lines(t, "demo")
	v("domstate", "demo", "--reason").lines(t, "running (booted)")

	v("suspend", "demo").lines(t, "Domain 'demo' suspended")
	v("domstate", "demo", "--reason").lines(t, "paused (user)")
	v("list").listed(t, " 1    test   running", " 2    demo   paused")
	v("resume", "demo").lines(t, "Domain 'demo' resumed")
	v("domstate", "demo", "--reason").lines(t, "running (unpaused)")

	live := v("dumpxml", "demo").ok(t, "<name>demo</name>", "<uuid>"+demoUUID+"</uuid>").stdout
	if !regexp.MustCompile(`<domain type=["']test["'] id=["']2["']>`).MatchString(live) {
		t.Fatalf("live XML lacks id 2:\n%s", live)
	}
	inactive := v("dumpxml", "--inactive", "demo").ok(t, "<name>demo</name>").stdout
	if strings.Contains(inactive, "id=") {
		t.Fatalf("inactive XML carries an id:\n%s", inactive)
	}

	image := filepath.Join(t.TempDir(), "demo.save")
	v("save", "demo", image).ok(t, "Domain 'demo' saved to "+image)
	v("domstate", "demo", "--reason").lines(t, "shut off (saved)")
	v("restore", image).ok(t, "Domain restored from "+image)
	v("domstate", "demo", "--reason").lines(t, "running (restored)")

	v("autostart", "demo").lines(t, "Domain 'demo' marked as autostarted")
	v("dominfo", "demo").ok(t, "Autostart:      enable\n", "State:          running\n")
	v("list", "--autostart").listed(t, " 3    demo   running")
	v("autostart", "--disable", "demo").lines(t, "Domain 'demo' unmarked as autostarted")
	v("list", "--no-autostart").listed(t, " 1    test   running", " 3    demo   running")

	v("shutdown", "demo").lines(t, "Domain 'demo' is being shutdown")
	v("domstate", "demo", "--reason").lines(t, "shut off (shutdown)")
	v("destroy", "demo").fails(t, "error: Failed to destroy domain 'demo'",
		"error: Requested operation is not valid: domain is not running")
	v("start", "demo").ok(t)
	v("destroy", "demo").lines(t, "Domain 'demo' destroyed")
	v("domstate", "demo", "--reason").lines(t, "shut off (destroyed)")
	v("reboot", "test").lines(t, "Domain 'test' is being rebooted")

	v("undefine", "demo").lines(t, "Domain 'demo' has been undefined")
	v("dominfo", "demo").fails(t, "error: failed to get domain 'demo'")
	v("list", "--all").listed(t, " 1    test   running")

	v("define", testdata("malformed.xml")).fails(t, "error: Failed to define domain from", "XML error")
	v("define", testdata("noname.xml")).fails(t, "missing domain name")

	v("create", testdata("demo.xml")).ok(t, "Domain 'demo' created from "+testdata("demo.xml"))
	v("list", "--transient").listed(t, " 5    demo   running")
	v("dominfo", "demo").ok(t, "Persistent:     no\n")
	v("destroy", "demo").ok(t)
	v("dominfo", "demo").fails(t, "failed to get domain 'demo'")
}

// TestVirshConnectionCommands covers the commands about the connection
// and the host.
func TestVirshConnectionCommands(t *testing.T) {
	d := startDaemon(t, nil)
	v := func(args ...string) virshResult { return runVirsh(t, d.URI(), args...) }

	v("version", "--daemon").ok(t, "Using API: TEST 9.0.0\n", "Running hypervisor: TEST 0.0.2\n",
		"Running against daemon: 9.0.0\n")
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	v("hostname").lines(t, host)
	v("uri").lines(t, d.URI())
	v("nodeinfo").lines(t,
		"CPU model:           i686",
		"CPU(s):              16",
		"CPU frequency:       1400 MHz",
		"CPU socket(s):       2",
		"Core(s) per socket:  2",
		"Thread(s) per core:  2",
		"NUMA cell(s):        2",
		"Memory size:         3145728 KiB")
	v("capabilities").ok(t, "<capabilities>", "<domain type='test'/>", "<cells num='2'>")
	v("nwfilter-list").fails(t, "error: this function is not supported by the connection driver")
	runVirsh(t, "bogus+unix:///x?socket="+d.RW(), "list").fails(t, "no connection driver available for bogus:///x")
}

// TestVirshListFilters checks every list flag combination virsh offers
// against a known set of domains.
func TestVirshListFilters(t *testing.T) {
	d := startDaemon(t, nil)
	v := func(args ...string) virshResult { return runVirsh(t, d.URI(), args...) }
	v("define", testdata("demo.xml")).ok(t)
	v("autostart", "demo").ok(t)
	testRow, demoRow := " 1    test   running", " -    demo   shut off"

	for _, c := range []struct {
		args []string
		rows []string
	}{
		{[]string{"list"}, []string{testRow}},
		{[]string{"list", "--all"}, []string{testRow, demoRow}},
		{[]string{"list", "--inactive"}, []string{demoRow}},
		{[]string{"list", "--persistent", "--all"}, []string{testRow, demoRow}},
		{[]string{"list", "--transient", "--all"}, nil},
		{[]string{"list", "--autostart", "--all"}, []string{demoRow}},
		{[]string{"list", "--no-autostart", "--all"}, []string{testRow}},
		{[]string{"list", "--state-running"}, []string{testRow}},
		// --state-shutoff alone asks for inactive domains only, as in virsh.
		{[]string{"list", "--state-shutoff"}, []string{demoRow}},
		{[]string{"list", "--state-running", "--state-shutoff"}, []string{demoRow}},
		{[]string{"list", "--state-running", "--state-shutoff", "--all"}, []string{testRow, demoRow}},
		{[]string{"list", "--state-paused"}, nil},
		{[]string{"list", "--state-other", "--all"}, nil},
		{[]string{"list", "--with-managed-save", "--all"}, nil},
		{[]string{"list", "--without-managed-save", "--all"}, []string{testRow, demoRow}},
		{[]string{"list", "--with-snapshot", "--all"}, nil},
		{[]string{"list", "--without-snapshot", "--all"}, []string{testRow, demoRow}},
		{[]string{"list", "--with-checkpoint", "--all"}, nil},
		{[]string{"list", "--without-checkpoint", "--all"}, []string{testRow, demoRow}},
	} {
		v(c.args...).listed(t, c.rows...)
	}
	v("list", "--all", "--name").lines(t, "test", "demo")
	v("list", "--all", "--uuid").lines(t, "6695eb01-f6a4-8304-79aa-97f2502e193f", demoUUID)
}

// TestVirshReadOnly checks that read-only clients (the read-only socket,
// or virsh -r) may look but not change.
func TestVirshReadOnly(t *testing.T) {
	d := startDaemon(t, nil)
	ro := func(args ...string) virshResult { return runVirsh(t, d.ROURI(), args...) }
	ro("list").ok(t, " 1    test   running")
	ro("dominfo", "test").ok(t, "State:          running")
	ro("dumpxml", "test").ok(t, "<name>test</name>")
	ro("suspend", "test").fails(t, "error: Failed to suspend domain 'test'",
		"error: operation forbidden: read only access prevents virDomainSuspend")
	ro("define", testdata("demo.xml")).fails(t, "read only access prevents virDomainDefineXML")
	ro("destroy", "test").fails(t, "read only access prevents virDomainDestroy")
	runVirsh(t, d.URI(), "-r", "suspend", "test").fails(t, "read only access prevents virDomainSuspend")
	runVirsh(t, d.URI(), "domstate", "test").lines(t, "running")
}
