package qemu

import (
	"context"
	"image/png"
	"path/filepath"
	"strings"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// TestScreenshot: a running guest with a VGA card gives a PNG of its
// screen, made by qemu's screendump, whose file is gone once read; a
// guest without a video device gets qemu's reason; a stopped one is
// not running.
func TestScreenshot(t *testing.T) {
	d, c := testDriver(t)
	ctx := context.Background()
	ev := recordEvents(t, c)
	xml := strings.Replace(readTestdata(t, "demo.xml"), "<on_poweroff>", "<devices><video><model type='vga'/></video></devices><on_poweroff>", 1)
	dom, err := c.DomainDefineXML(ctx, xml, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.DomainScreenshot(ctx, dom, 0, 0); drivers.CodeOf(err) != vir.ErrOperationInvalid {
		t.Fatalf("screenshot of a stopped domain: %v, want VIR_ERR_OPERATION_INVALID", err)
	}
	if dom, err = c.DomainCreate(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Defined Added", "demo Started Booted")
	mime, img, err := c.DomainScreenshot(ctx, dom, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if mime != "image/png" {
		t.Errorf("mime %q, want image/png", mime)
	}
	pic, err := png.Decode(img)
	if err != nil {
		t.Fatalf("the screenshot is no PNG: %v", err)
	}
	if b := pic.Bounds(); b.Dx() < 320 || b.Dy() < 200 {
		t.Errorf("a %v screen, want at least 320×200 (VGA)", b)
	}
	img.Close()
	if left, _ := filepath.Glob(filepath.Join(d.cfg.StateDir, ".demo.screendump.*")); len(left) != 0 {
		t.Errorf("screendump files left behind: %v", left)
	}
	if err := c.DomainDestroy(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Stopped Destroyed")

	// Without a video device there is no screen.
	if err := c.DomainUndefine(ctx, dom, 0); err != nil {
		t.Fatal(err)
	}
	ev.waitFor(t, "demo Undefined Removed")
	dom, _ = startDemo(t, c, ev)
	if _, _, err := c.DomainScreenshot(ctx, dom, 0, 0); drivers.CodeOf(err) != vir.ErrOperationFailed {
		t.Fatalf("screenshot without a video device: %v, want qemu's refusal as VIR_ERR_OPERATION_FAILED", err)
	}
}
