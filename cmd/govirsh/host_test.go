package main

import (
	"os"
	"strings"
	"testing"
)

const nodeinfoTest = `CPU model:           i686
CPU(s):              16
CPU frequency:       1400 MHz
CPU socket(s):       2
Core(s) per socket:  2
Thread(s) per core:  2
NUMA cell(s):        2
Memory size:         3145728 KiB

`

func TestHostCommands(t *testing.T) {
	d := startDaemon(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	runSteps(t, d, []step{
		ok("Compiled against library: libvirt 9.0.0\nUsing library: libvirt 9.0.0\nUsing API: TEST 9.0.0\n"+
			"Running hypervisor: TEST 0.0.2\n\n", "version"),
		ok("Compiled against library: libvirt 9.0.0\nUsing library: libvirt 9.0.0\nUsing API: TEST 9.0.0\n"+
			"Running hypervisor: TEST 0.0.2\nRunning against daemon: 9.0.0\n\n", "version", "--daemon"),
		ok(host+"\n\n", "hostname"),
		ok(d.uri+"\n\n", "uri"),
		ok(nodeinfoTest, "nodeinfo"),
		{args: cmd("capabilities"), check: func(t *testing.T, r result) {
			if !strings.HasPrefix(r.stdout, "<capabilities>") || !strings.HasSuffix(r.stdout, "</capabilities>\n\n\n") {
				t.Errorf("not a capabilities document followed by virsh's newlines")
			}
			if !strings.Contains(r.stdout, "<domain type='test'/>") {
				t.Errorf("capabilities lack the test domain type")
			}
		}},
		// The test driver's network concern.
		contains(cmd("net-list"), " default   active "),
		contains(cmd("net-list", "--all"), " default   active "),
		ok("lifecycle\nreboot\n\n", "event", "--list"),
	})
}

func TestErrors(t *testing.T) {
	d := startDaemon(t)
	copyTestdata(t, d)
	runSteps(t, d, []step{
		{args: cmd("define", "malformed.xml"), code: 1, check: func(t *testing.T, r result) {
			want := "error: Failed to define domain from malformed.xml\nerror: XML error: "
			if !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 2 || r.stdout != "\n" {
				t.Errorf("want two error lines starting %q", want)
			}
		}},
		{args: cmd("create", "noname.xml"), code: 1, check: func(t *testing.T, r result) {
			if !strings.HasPrefix(r.stderr, "error: Failed to create domain from noname.xml\nerror: ") {
				t.Errorf("want virsh's create failure")
			}
		}},
		fails("error: Failed to open file 'missing.xml': No such file or directory\n", "define", "missing.xml"),
		fails("error: failed to get domain 'nosuch'\n", "dominfo", "nosuch"),
		fails("error: failed to get domain 'nosuch'\n", "domstate", "nosuch"),
		fails("error: Domain is already active\n", "start", "test"),
		fails("error: Unknown mode bogus value, expecting 'acpi', 'agent', 'initctl', 'signal', or 'paravirt'\n",
			"shutdown", "--mode", "bogus", "test"),
		fails("error: Options --all and --event are mutually exclusive\n", "event", "--all", "--event", "lifecycle"),
		fails("error: one of --list, --all, or --event <type> is required\n", "event"),
		fails("error: unknown event type bogus\n", "event", "--event", "bogus"),
		fails("error: Numeric value '0' for <timeout> option is malformed or out of range\n", "event", "--all", "--timeout", "0"),
		fails("error: Options --table and --name are mutually exclusive\n", "list", "--table", "--name"),

		// Argument errors are found before the command runs: no blank line.
		{args: cmd("suspend"), code: 1, errOut: "error: command 'suspend' requires <domain> option\n"},
		{args: cmd("save", "test"), code: 1, errOut: "error: command 'save' requires <file> option\n"},
		{args: cmd("dominfo", "a", "b"), code: 1, errOut: "error: unexpected data 'b'\n"},
		{args: cmd("list", "--foo"), code: 1, errOut: "error: command 'list' doesn't support option --foo\n"},
		{args: cmd("frobnicate"), code: 1, errOut: "error: unknown command: 'frobnicate'\n"},

		// --domain works as virsh's named form of the argument.
		ok("running\n\n", "domstate", "--domain", "test"),
	})
}

func TestReadOnly(t *testing.T) {
	d := startDaemon(t)
	runSteps(t, d, []step{
		fails("error: Failed to suspend domain 'test'\nerror: operation forbidden: read only access prevents virDomainSuspend\n",
			"-r", "suspend", "test"),
		fails("error: Failed to destroy domain 'test'\nerror: operation forbidden: read only access prevents virDomainDestroy\n",
			"--readonly", "destroy", "test"),
		fails("error: Failed to destroy domain 'test'\nerror: operation forbidden: read only access prevents virDomainDestroyFlags\n",
			"--readonly", "destroy", "--graceful", "test"),
		ok(onlyTest, "-r", "list"),
		// libvirt's test driver starts its domain with reason unknown.
		ok("running (unknown)\n\n", "-r", "domstate", "--reason", "test"),
		ok("running\n\n", "domstate", "test"), // the read-write connection still works
	})
}

func TestConnectionURI(t *testing.T) {
	d := startDaemon(t)
	// Without --connect, $GOVIRT_DEFAULT_URI names the daemon.
	r := runTool(t, d.dir, govirshBin, []string{"GOVIRT_DEFAULT_URI=" + d.uri}, "uri")
	if r.code != 0 || r.stdout != d.uri+"\n\n" {
		t.Errorf("uri with GOVIRT_DEFAULT_URI:\n%s", r)
	}
	// --connect wins over the environment.
	r = runTool(t, d.dir, govirshBin, []string{"GOVIRT_DEFAULT_URI=test+unix:///default?socket=/nonexistent/sock"}, "-c", d.uri, "domname", "1")
	if r.code != 0 || r.stdout != "test\n\n" {
		t.Errorf("--connect does not win over GOVIRT_DEFAULT_URI:\n%s", r)
	}
	// A daemon that is not there: virsh's two lines, no blank line.
	r = runTool(t, d.dir, govirshBin, nil, "-c", "test+unix:///default?socket=/nonexistent/sock", "list")
	if r.code != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, "error: failed to connect to the hypervisor\nerror: ") {
		t.Errorf("connection failure:\n%s", r)
	}
}
