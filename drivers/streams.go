package drivers

import (
	"context"
	"io"
)

// The operations whose data travels in a stream (virStream). A driver
// gives or takes the data as an io.ReadCloser or io.WriteCloser; the
// daemon carries it over the client's connection, with its flow control,
// and closes it when the stream ends, whether finished or aborted.

// Screenshotter takes a screenshot of a domain's screen
// (virDomainScreenshot): the image's MIME type and its bytes.
type Screenshotter interface {
	DomainScreenshot(ctx context.Context, dom Domain, screen, flags uint32) (mime string, image io.ReadCloser, err error)
}
