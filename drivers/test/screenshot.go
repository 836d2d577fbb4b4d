package test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"io"
	"sync"

	"github.com/govirt/govirtd/drivers"
)

// screenshotPNG is the picture every test domain's screen shows, made
// once: a 320×200 gradient, PNG-encoded (libvirt's test driver sends a
// fixed PNG too; ours is our own).
var screenshotPNG = sync.OnceValue(func() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 320, 200))
	for y := 0; y < 200; y++ {
		for x := 0; x < 320; x++ {
			img.Set(x, y, color.RGBA{R: uint8(x * 255 / 319), G: uint8(y * 255 / 199), B: 0x80, A: 0xff})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic("test driver: screenshot: " + err.Error())
	}
	return b.Bytes()
})

// DomainScreenshot answers the test picture as image/png for any
// domain and screen, running or not, as libvirt's test driver does.
func (c *conn) DomainScreenshot(ctx context.Context, dom drivers.Domain, screen, flags uint32) (string, io.ReadCloser, error) {
	if flags != 0 {
		return "", nil, badFlags(flags, "testDomainScreenshot")
	}
	return "image/png", io.NopCloser(bytes.NewReader(screenshotPNG())), nil
}
