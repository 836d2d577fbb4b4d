package protocol

import (
	"encoding/binary"
	"fmt"
)

// Header is the message header that starts every frame
// (virNetMessageHeader); MessageType and Status are its enums.
type (
	Header      = NetMessageHeader
	MessageType = NetMessageType
	Status      = NetMessageStatus
)

// Sizes of a frame, from virnetprotocol.x.
const (
	LengthSize = NetMessageLenMax    // the length word before each message
	HeaderSize = NetMessageHeaderMax // the header's encoded size
	MinFrame   = LengthSize + HeaderSize
)

func (h *Header) Put(b []byte) {
	_ = b[HeaderSize-1]
	binary.BigEndian.PutUint32(b[0:], h.Program)
	binary.BigEndian.PutUint32(b[4:], h.Version)
	binary.BigEndian.PutUint32(b[8:], uint32(h.Procedure))
	binary.BigEndian.PutUint32(b[12:], uint32(h.Type))
	binary.BigEndian.PutUint32(b[16:], h.Serial)
	binary.BigEndian.PutUint32(b[20:], uint32(h.Status))
}

// ParseHeader reads a Header from the first HeaderSize bytes of b. Any
// values are accepted: what they mean is for the receiver to judge.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("message of %d bytes is shorter than the %d-byte header", len(b), HeaderSize)
	}
	return Header{
		Program:   binary.BigEndian.Uint32(b[0:]),
		Version:   binary.BigEndian.Uint32(b[4:]),
		Procedure: int32(binary.BigEndian.Uint32(b[8:])),
		Type:      MessageType(binary.BigEndian.Uint32(b[12:])),
		Serial:    binary.BigEndian.Uint32(b[16:]),
		Status:    Status(binary.BigEndian.Uint32(b[20:])),
	}, nil
}

// IsKeepalive reports whether h belongs to the keepalive program.
func (h *Header) IsKeepalive() bool {
	return h.Program == KeepaliveProgram
}

func (h Header) String() string {
	return fmt.Sprintf("prog=%#x vers=%d proc=%d type=%s serial=%d status=%s",
		h.Program, h.Version, h.Procedure, h.Type, h.Serial, h.Status)
}
