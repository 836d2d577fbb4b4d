package testutil

import "github.com/govirt/govirtd/protocol"

// SeqBody is a body for transport tests: a sequence number and padding,
// with a codec over the protocol package's primitives.
type SeqBody struct {
	Seq uint32
	Pad string
}

func (b *SeqBody) EncodeXDR(e *protocol.Encoder) error {
	e.Uint32(b.Seq)
	return e.String(b.Pad, protocol.RemoteStringMax)
}

func (b *SeqBody) DecodeXDR(d *protocol.Decoder) (err error) {
	if b.Seq, err = d.Uint32(); err != nil {
		return err
	}
	b.Pad, err = d.String(protocol.RemoteStringMax)
	return err
}
