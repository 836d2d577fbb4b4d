package qemu_test

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestGuestEvents: the tiny Linux guest with govirt.agent (its balloon
// and virtio console drivers loaded, the guest agent's port opened as
// an agent would) raises, seen by the real `virsh event --all --loop`:
// AGENT_LIFECYCLE connected when it opens the org.qemu.guest_agent.0
// port, disconnected when it closes it (after the host writes a line
// into the channel's socket); BALLOON_CHANGE when `virsh setmem` moves
// the balloon and the guest's driver follows, ending at the new size,
// which dommemstat then reports. setmem beyond <memory> and on a guest
// without a balloon fail as libvirt's do; setmem --config changes the
// persistent <currentMemory>.
func TestGuestEvents(t *testing.T) {
	d := newTestDaemon(t)
	guest := guestDir(t)
	console := d.path("console.log")
	xml := fmt.Sprintf(`<domain type='qemu'>
  <name>agent</name>
  <memory unit='MiB'>128</memory>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>%s/vmlinuz</kernel>
    <initrd>%s/initrd.gz</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 govirt.agent</cmdline>
  </os>
  <features><acpi/></features>
  <devices>
    <serial type='file'><source path='%s'/></serial>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <memballoon model='virtio'/>
  </devices>
</domain>
`, guest, guest, console)
	if err := os.WriteFile(d.path("agent.xml"), []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	d.start()
	ev := d.watchEvents()
	d.mustVirsh("define", d.path("agent.xml"))
	d.mustVirsh("start", "agent")
	ev.expect("agent", "Defined Added", "Started Booted")

	waitConsole(t, console, "GUEST-AGENT-OPEN", 1)
	ev.waitLine("event 'agent-lifecycle' for domain 'agent': state: 'connected' reason: 'channel event'")

	live := d.mustVirsh("dumpxml", "agent")
	m := regexp.MustCompile(`<source mode="bind" path="([^"]+)">(?:</source>)?\s*<target type="virtio" name="org.qemu.guest_agent.0"`).FindStringSubmatch(live)
	if m == nil {
		t.Fatalf("no socket path for the agent channel in the live XML:\n%s", live)
	}
	c, err := net.Dial("unix", m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("bye\n")); err != nil {
		t.Fatal(err)
	}
	waitConsole(t, console, "GUEST-AGENT-CLOSED", 1)
	ev.waitLine("event 'agent-lifecycle' for domain 'agent': state: 'disconnected' reason: 'channel event'")

	d.mustVirsh("setmem", "agent", "96M", "--live")
	ev.waitLine("event 'balloon-change' for domain 'agent': 98304KiB")
	if out := d.mustVirsh("dommemstat", "agent"); !strings.Contains(out, "actual 98304\n") {
		t.Errorf("dommemstat after setmem 96M:\n%s", out)
	}
	if out, err := d.virsh("setmem", "agent", "256M", "--live"); err == nil || !strings.Contains(out, "cannot set memory higher than max memory") {
		t.Errorf("setmem above <memory>: %v\n%s", err, out)
	}
	d.mustVirsh("setmem", "agent", "100M", "--config")
	if out := d.mustVirsh("dumpxml", "--inactive", "agent"); !strings.Contains(out, `<currentMemory unit="KiB">102400</currentMemory>`) {
		t.Errorf("setmem --config 100M: the persistent definition:\n%s", out)
	}
	d.mustVirsh("destroy", "agent")
	ev.expect("agent", "Stopped Destroyed")

	// Without a balloon, as libvirt refuses it.
	noBalloon := strings.Replace(xml, "<memballoon model='virtio'/>", "<memballoon model='none'/>", 1)
	noBalloon = strings.Replace(noBalloon, "govirt.agent", "", 1)
	os.WriteFile(d.path("plain.xml"), []byte(strings.Replace(noBalloon, "<name>agent</name>", "<name>plain</name>", 1)), 0o644)
	d.mustVirsh("create", d.path("plain.xml"))
	if out, err := d.virsh("setmem", "plain", "96M"); err == nil || !strings.Contains(out, "Unable to change memory of active domain without the balloon device and guest OS balloon driver") {
		t.Errorf("setmem without a balloon: %v\n%s", err, out)
	}
	d.mustVirsh("destroy", "plain")
	ev.stop()
}
