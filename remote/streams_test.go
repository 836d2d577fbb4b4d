package remote_test

import (
	"bytes"
	"context"
	"image/png"
	"io"
	"testing"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// TestScreenshotStream: DomainScreenshot gives the MIME type and a
// stream of a PNG that decodes; a bad flag is the daemon's typed error,
// with no stream.
func TestScreenshotStream(t *testing.T) {
	ctx := context.Background()
	uri, _ := serve(t)
	c := dial(t, uri)
	dom, err := c.DomainLookupByName(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	mime, st, err := c.DomainScreenshot(ctx, dom, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if mime != "image/png" {
		t.Errorf("mime %q, want image/png", mime)
	}
	data, err := io.ReadAll(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Finish(ctx); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	if _, err := png.Decode(bytes.NewReader(data)); err != nil {
		t.Fatalf("the screenshot is no PNG: %v", err)
	}
	if _, _, err := c.DomainScreenshot(ctx, dom, 0, 8); drivers.CodeOf(err) != vir.ErrInvalidArg {
		t.Fatalf("a screenshot with flags 8: %v, want VIR_ERR_INVALID_ARG", err)
	}
	if _, err := c.DomainGetInfo(ctx, dom); err != nil {
		t.Fatalf("after the streams: %v", err)
	}
}
