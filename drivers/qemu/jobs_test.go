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

const jobDomainXML = `<domain type='qemu'>
  <name>jobs</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
</domain>
`

// jobLabels is a domjobinfo output's labels, with the values of those
// that name the job (type, operation) and not its figures.
func jobLabels(out string) string {
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			b.WriteString(l + "\n")
			continue
		}
		switch k {
		case "Job type", "Operation":
			b.WriteString(k + ": " + strings.TrimSpace(v) + "\n")
		default:
			b.WriteString(k + "\n")
		}
	}
	return b.String()
}

// jobEventParams are the parameter names of the job-completed events
// virsh event printed.
func jobEventParams(b *testutil.SyncBuffer) string {
	var out []string
	in := false
	for _, l := range strings.Split(b.String(), "\n") {
		switch {
		case strings.Contains(l, "event 'job-completed'"):
			in = true
			out = append(out, "job-completed")
		case in && strings.HasPrefix(l, "\t"):
			k, v, _ := strings.Cut(strings.TrimSpace(l), ":")
			if k == "operation" {
				k += v
			}
			out = append(out, k)
		default:
			in = false
		}
	}
	return strings.Join(out, " ")
}

// TestJobsDifferential: the real virsh domjobinfo (DOMAIN_GET_JOB_STATS),
// domjobabort and save against govirtd and a private libvirtd 9.0 with
// the same diskless guest: the same outputs, but for the figures, whose
// labels must be the same (qemu measures them); the completed save's
// stats are read once; the job-completed event carries the same
// parameters. Then a save into a FIFO nobody reads stalls in qemu's
// migration: domjobinfo shows it running, domjobabort stops it, the
// save fails as aborted and the guest runs on.
func TestJobsDifferential(t *testing.T) {
	d := newTestDaemon(t)
	d.start()
	lvURI := startPrivLibvirtd(t, d.path("libvirtd"), "").uri()
	def := d.path("jobs.xml")
	if err := os.WriteFile(def, []byte(jobDomainXML), 0o644); err != nil {
		t.Fatal(err)
	}
	gvEvents, lvEvents := virshEvents(t, d.uri()), virshEvents(t, lvURI)
	image := map[string]string{d.uri(): d.path("gv.save"), lvURI: d.path("lv.save")}
	steps := [][]string{
		{"define", def},
		{"domjobinfo", "jobs"},
		{"domjobinfo", "jobs", "--completed"},
		{"start", "jobs"},
		{"domjobinfo", "jobs"},
		{"domjobinfo", "jobs", "--completed"},
		{"domjobabort", "jobs"},
		{"save", "jobs", "IMAGE"},
		{"domjobinfo", "jobs"},
		{"domjobinfo", "jobs", "--completed", "--keep-completed"},
		{"domjobinfo", "jobs", "--completed"},
		{"domjobinfo", "jobs", "--completed"},
		{"restore", "IMAGE"},
		{"domjobinfo", "jobs", "--completed"},
		{"domjobinfo", "jobs"},
		{"destroy", "jobs"},
		{"start", "jobs"},
	}
	run := func(uri string, step []string) string {
		args := append([]string(nil), step...)
		for i := range args {
			if args[i] == "IMAGE" {
				args[i] = image[uri]
			}
		}
		out := virshOn(uri, args...)
		out = strings.ReplaceAll(out, image[uri], "IMAGE")
		if step[0] == "domjobinfo" {
			// The bandwidth is shown only when qemu measured one above
			// zero, which depends on the save's timing in either daemon.
			out = regexp.MustCompile(`(?m)^Memory bandwidth.*\n`).ReplaceAllString(out, "")
			out = jobLabels(out)
		}
		return out
	}
	for i, step := range steps {
		gv, lv := run(d.uri(), step), run(lvURI, step)
		if gv != lv {
			t.Errorf("step %d: virsh %q\ngovirtd:\n%s\nlibvirtd:\n%s", i, step, gv, lv)
		}
	}
	deadline := time.Now().Add(hang)
	for !strings.Contains(gvEvents.String(), "job-completed") || !strings.Contains(lvEvents.String(), "job-completed") {
		if time.Now().After(deadline) {
			t.Fatalf("no job-completed event:\ngovirtd:\n%s\nlibvirtd:\n%s", gvEvents, lvEvents)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// memory_bps is sent only for a bandwidth qemu measured above zero,
	// which depends on the save's timing in either daemon.
	noBps := func(s string) string { return strings.ReplaceAll(s, " memory_bps", "") }
	if gv, lv := noBps(jobEventParams(gvEvents)), noBps(jobEventParams(lvEvents)); gv != lv || !strings.Contains(gv, "operation 2") {
		t.Errorf("job-completed events:\ngovirtd:  %s\nlibvirtd: %s", gv, lv)
	}

	virshAt(t, lvURI, "destroy", "jobs")

	// An abort of a save that qemu cannot finish: its FIFO is open but
	// not read, so qemu's migration waits once the pipe is full.
	fifo := d.path("stall.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	reader, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	save := exec.Command("virsh", "-c", d.uri(), "save", "jobs", fifo)
	save.Env = append(os.Environ(), "LIBVIRT_AUTOSTART=0")
	var saveOut testutil.SyncBuffer
	save.Stdout, save.Stderr = &saveOut, &saveOut
	if err := save.Start(); err != nil {
		t.Fatal(err)
	}
	saved := make(chan error, 1)
	go func() { saved <- save.Wait() }()
	var running string
	for deadline := time.Now().Add(hang); ; time.Sleep(50 * time.Millisecond) {
		running = d.mustVirsh("domjobinfo", "jobs")
		if strings.Contains(running, "Unbounded") && strings.Contains(running, "Memory processed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stalled save is not shown as a running job:\n%s\nsave: %s", running, &saveOut)
		}
	}
	if !strings.Contains(running, "Operation:        Save") {
		t.Errorf("domjobinfo of the running save:\n%s", running)
	}
	d.mustVirsh("domjobabort", "jobs")
	reader.Close() // qemu's blocked write fails, and the cancel completes
	select {
	case err := <-saved:
		if err == nil || !strings.Contains(saveOut.String(), "operation aborted: job 'domain save' canceled by client") {
			t.Errorf("the aborted save: %v\n%s", err, &saveOut)
		}
	case <-time.After(hang):
		t.Fatalf("the aborted save does not end:\n%s", &saveOut)
	}
	checkDomstate(t, d, "jobs", "running (save canceled)")
	if out := jobLabels(d.mustVirsh("domjobinfo", "jobs", "--completed")); !strings.Contains(out, "Job type: Cancelled") || !strings.Contains(out, "Operation: Save") {
		t.Errorf("domjobinfo --completed after the abort:\n%s", out)
	}
	if out, err := d.virsh("domjobabort", "jobs"); err == nil || !strings.Contains(out, "no job is active on the domain") {
		t.Errorf("domjobabort with no job: %v\n%s", err, out)
	}
	d.mustVirsh("destroy", "jobs")
	if regexp.MustCompile(`(?m)^event 'job-completed'`).FindAllStringIndex(gvEvents.String(), -1) == nil {
		t.Fatal("lost the events")
	}
	if n := strings.Count(gvEvents.String(), "event 'job-completed'"); n != 1 {
		t.Errorf("%d job-completed events from govirtd; want one, for the save that completed:\n%s", n, gvEvents)
	}
}
