package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// cpuTimeLine is dominfo's CPU time, which moves between two runs.
var cpuTimeLine = regexp.MustCompile(`(?m)^CPU time:.*\n`)

// TestMatchesVirsh runs the same commands through the real virsh and
// through govirsh against one daemon and wants the same stdout, stderr
// and exit status: govirsh's formats are virsh's.
func TestMatchesVirsh(t *testing.T) {
	virsh, err := exec.LookPath("virsh")
	if err != nil {
		t.Fatalf("virsh is not installed (%v): `make deps` installs it (Debian package libvirt-clients)", err)
	}
	d := startDaemon(t)
	copyTestdata(t, d)
	// test runs; demo is defined and paused; nothing else changes below.
	runSteps(t, d, []step{
		ok("Domain 'demo' defined from demo.xml\n\n", "define", "demo.xml"),
		ok("Domain 'demo' started\n\n", "start", "demo"),
		ok("Domain 'demo' suspended\n\n", "suspend", "demo"),
	})

	commands := [][]string{
		{"list"}, {"list", "--all"}, {"list", "--inactive"}, {"list", "--name", "--all"},
		{"list", "--uuid", "--all"}, {"list", "--id", "--all"}, {"list", "--uuid", "--name", "--all"},
		{"list", "--state-paused"}, {"list", "--state-running", "--state-shutoff"},
		{"list", "--all", "--persistent"}, {"list", "--all", "--transient"},
		{"list", "--all", "--autostart"}, {"list", "--all", "--no-autostart"}, {"-q", "list", "--all"},
		{"dominfo", "test"}, {"dominfo", "demo"}, {"dominfo", "1"}, {"dominfo", demoUUID},
		{"domstate", "test"}, {"domstate", "--reason", "demo"}, {"domstate", "--domain", "demo"},
		{"domid", "demo"}, {"domid", "test"}, {"domid", "1"},
		{"domuuid", "demo"}, {"domuuid", "1"}, {"domname", "1"}, {"domname", demoUUID},
		{"dumpxml", "demo"}, {"dumpxml", "--inactive", "demo"},
		{"nodeinfo"}, {"version"}, {"version", "--daemon"}, {"hostname"}, {"uri"}, {"capabilities"},
		// Errors.
		{"dominfo", "nosuch"}, {"domstate", "42"}, {"start", "test"}, {"suspend", "demo"},
		{"-r", "destroy", "test"}, {"-r", "destroy", "--graceful", "test"}, {"-r", "shutdown", "test"},
		{"-r", "reboot", "test"}, {"-r", "resume", "demo"}, {"-r", "autostart", "test"}, {"-r", "undefine", "demo"},
		{"-r", "save", "test", "test.save"}, {"-r", "restore", "test.save"}, {"-r", "define", "demo.xml"},
		{"-r", "create", "demo.xml"}, {"-r", "list", "--all"}, {"define", "malformed.xml"}, {"define", "missing.xml"},
		{"suspend"}, {"dominfo", "a", "b"}, {"list", "--foo"}, {"frobnicate"},
		{"event"}, {"event", "--all", "--event", "lifecycle"}, {"event", "--event", "bogus"},
		{"event", "--all", "--timeout", "1"}, {"event", "--all", "--timeout", "0"}, {"event", "--all", "--domain", "nosuch"},
		{"list", "--table", "--name"}, {"shutdown", "--mode", "bogus", "test"}, {"save", "test"},
		{"screenshot", "test", "shot.png"}, {"screenshot", "--screen", "0", "test", "shot.png"}, {"screenshot", "nosuch", "shot.png"},
	}
	for _, args := range commands {
		full := append([]string{"-c", d.uri}, args...)
		want := runTool(t, d.dir, virsh, nil, full...)
		got := runTool(t, d.dir, govirshBin, nil, full...)
		want.stdout = cpuTimeLine.ReplaceAllString(want.stdout, "")
		got.stdout = cpuTimeLine.ReplaceAllString(got.stdout, "")
		if got != want {
			t.Errorf("%s:\nvirsh: %s\ngovirsh: %s", strings.Join(args, " "), want, got)
		}
	}
}
