package daemon_test

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// TestVirshScreenshot: virsh screenshot receives the test driver's
// picture over a stream (DOMAIN_SCREENSHOT, then STREAM messages) and
// saves a PNG that decodes; the connection serves calls afterwards.
func TestVirshScreenshot(t *testing.T) {
	d := startDaemon(t, nil)
	file := filepath.Join(t.TempDir(), "screen.png")
	runVirsh(t, d.URI(), "screenshot", "test", file).ok(t, "with type of image/png")
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("the screenshot virsh saved is no PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 320 || b.Dy() != 200 {
		t.Fatalf("the screenshot is %v, want 320×200", b)
	}
	runVirsh(t, d.URI(), "screenshot", "test", file, "--screen", "0").ok(t, "Screenshot saved to")
	runVirsh(t, d.URI(), "domstate", "test").ok(t, "running")
}
