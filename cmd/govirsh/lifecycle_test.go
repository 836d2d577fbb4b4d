package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// step is one govirsh command of a scenario and what it must print.
type step struct {
	args []string
	// out and errOut are the exact stdout and stderr, unless check is set.
	out, errOut string
	code        int
	// check, when set, replaces the comparison of out and errOut.
	check func(t *testing.T, r result)
}

func cmd(args ...string) []string { return args }

// ok is a step that succeeds with exactly out on stdout.
func ok(out string, args ...string) step { return step{args: args, out: out} }

// fails is a step that exits 1 with exactly errOut on stderr and virsh's
// blank line on stdout.
func fails(errOut string, args ...string) step {
	return step{args: args, out: "\n", errOut: errOut, code: 1}
}

// contains is a step that succeeds with stdout containing every part and
// nothing on stderr.
func contains(args []string, parts ...string) step {
	return step{args: args, check: func(t *testing.T, r result) {
		for _, p := range parts {
			if !strings.Contains(r.stdout, p) {
				t.Errorf("stdout lacks %q", p)
			}
		}
		if r.stderr != "" {
			t.Errorf("stderr is not empty")
		}
	}}
}

func runSteps(t *testing.T, d *testDaemon, steps []step) {
	t.Helper()
	for _, s := range steps {
		r := d.govirsh(t, s.args...)
		name := strings.Join(s.args, " ")
		if r.code != s.code {
			t.Errorf("govirsh %s: exit %d, want %d\n%s", name, r.code, s.code, r)
			continue
		}
		if s.check != nil {
			t.Run(name, func(t *testing.T) {
				s.check(t, r)
				if t.Failed() {
					t.Logf("%s", r)
				}
			})
			continue
		}
		if r.stdout != s.out || r.stderr != s.errOut {
			t.Errorf("govirsh %s:\n%s\nwant stdout:\n%s\nwant stderr:\n%s", name, r, s.out, s.errOut)
		}
	}
}

// copyTestdata copies the domain definitions into d's directory, so that
// commands name them as demo.xml and so on.
func copyTestdata(t *testing.T, d *testDaemon) {
	t.Helper()
	for _, f := range []string{"demo.xml", "malformed.xml", "noname.xml"} {
		b, err := os.ReadFile(repoFile(t, filepath.Join("testdata", "domains", f)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d.dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const (
	demoUUID = "0b0e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b"

	tableHeader = " Id   Name   State\n" + "----------------------\n"
	onlyTest    = tableHeader + " 1    test   running\n\n"

	demoInfoInactive = `Id:             -
Name:           demo
UUID:           ` + demoUUID + `
OS Type:        linux
State:          shut off
CPU(s):         2
Max memory:     524288 KiB
Used memory:    262144 KiB
Persistent:     yes
Autostart:      disable
Managed save:   no
Security model: testSecurity
Security DOI:   

`
)

func TestLifecycle(t *testing.T) {
	d := startDaemon(t)
	copyTestdata(t, d)
	runSteps(t, d, []step{
		ok("Domain 'demo' defined from demo.xml\n\n", "define", "demo.xml"),
		ok(" Id   Name   State\n-----------------------\n 1    test   running\n -    demo   shut off\n\n", "list", "--all"),
		ok(onlyTest, "list"),
		ok(" Id   Name   State\n-----------------------\n -    demo   shut off\n\n", "list", "--inactive"),
		ok("demo\n\n", "list", "--name", "--inactive"),
		ok(demoUUID+"\n\n", "list", "--uuid", "--inactive"),
		ok(demoInfoInactive, "dominfo", "demo"),
		ok(demoInfoInactive, "dominfo", demoUUID),
		ok("shut off (unknown)\n\n", "domstate", "--reason", "demo"),
		ok("shut off\n\n", "domstate", "demo"),
		ok("-\n\n", "domid", "demo"),
		ok(demoUUID+"\n\n", "domuuid", "demo"),
		ok("demo\n\n", "domname", demoUUID),

		ok("Domain 'demo' started\n\n", "start", "demo"),
		fails("error: Domain is already active\n", "start", "demo"),
		ok("2\n\n", "domid", "demo"),
		ok("demo\n\n", "domname", "2"),
		ok(demoUUID+"\n\n", "domuuid", "2"),
		ok("running (booted)\n\n", "domstate", "--reason", "2"),
		ok(tableHeader+" 1    test   running\n 2    demo   running\n\n", "list"),
		contains(cmd("dumpxml", "demo"), `<domain type="test" id="2">`, "<name>demo</name>", demoUUID),
		{args: cmd("dumpxml", "--inactive", "demo"), check: func(t *testing.T, r result) {
			if !strings.HasPrefix(r.stdout, `<domain type="test">`) || !strings.Contains(r.stdout, "<name>demo</name>") {
				t.Errorf("dumpxml --inactive is not the inactive definition")
			}
		}},

		ok("Domain 'demo' suspended\n\n", "suspend", "demo"),
		ok("paused (user)\n\n", "domstate", "--reason", "demo"),
		ok(" Id   Name   State\n---------------------\n 2    demo   paused\n\n", "list", "--state-paused"),
		fails("error: Failed to suspend domain 'demo'\nerror: Requested operation is not valid: domain is already paused\n", "suspend", "demo"),
		ok("Domain 'demo' resumed\n\n", "resume", "demo"),
		ok("running (unpaused)\n\n", "domstate", "--reason", "demo"),

		ok("\nDomain 'demo' saved to demo.save\n\n", "save", "demo", "demo.save"),
		ok("shut off (saved)\n\n", "domstate", "--reason", "demo"),
		ok("Domain restored from demo.save\n\n", "restore", "demo.save"),
		ok("running (restored)\n\n", "domstate", "--reason", "demo"),

		ok("Domain 'demo' marked as autostarted\n\n", "autostart", "demo"),
		ok(" Id   Name   State\n----------------------\n 3    demo   running\n\n", "list", "--autostart"),
		contains(cmd("dominfo", "demo"), "Autostart:      enable\n"),
		ok("Domain 'demo' unmarked as autostarted\n\n", "autostart", "--disable", "demo"),
		ok(" Id   Name   State\n--------------------\n\n", "list", "--autostart"),

		ok("Domain 'demo' is being shutdown\n\n", "shutdown", "demo"),
		ok("shut off (shutdown)\n\n", "domstate", "--reason", "demo"),
		ok("Domain 'demo' started\n\n", "start", "--paused", "demo"),
		ok("paused (user)\n\n", "domstate", "--reason", "demo"),
		ok("Domain 'demo' destroyed\n\n", "destroy", "demo"),
		ok("shut off (destroyed)\n\n", "domstate", "--reason", "demo"),
		fails("error: Failed to destroy domain 'demo'\nerror: Requested operation is not valid: domain is not running\n", "destroy", "demo"),
		fails("error: Failed to resume domain 'demo'\nerror: Requested operation is not valid: domain is not paused\n", "resume", "demo"),

		ok("Domain 'demo' has been undefined\n\n", "undefine", "demo"),
		ok(onlyTest, "list", "--all"),
		fails("error: failed to get domain 'demo'\n", "dominfo", "demo"),
		fails("error: failed to get domain 'demo'\n", "start", "demo"),
		fails("error: failed to get domain '42'\n", "suspend", "42"),

		ok("Domain 'demo' created from demo.xml\n\n", "create", "demo.xml"),
		ok(tableHeader+" 5    demo   running\n\n", "list", "--transient"),
		ok(onlyTest, "list", "--all", "--persistent"),
		contains(cmd("dominfo", "demo"), "Id:             5\n", "Persistent:     no\n"),
		ok("Domain 'demo' destroyed\n\n", "destroy", "demo"),
		ok(onlyTest, "list", "--all"),
		ok("Domain 'demo' created from demo.xml\n\n", "create", "--paused", "demo.xml"),
		ok("paused (user)\n\n", "domstate", "--reason", "demo"),
		ok("Domain 'demo' destroyed\n\n", "destroy", "demo"),
	})
}
