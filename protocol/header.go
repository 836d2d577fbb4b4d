package protocol

import (
	"encoding/binary"
	"fmt"
)

// Program numbers and versions.
const (
	RemoteProgram     uint32 = 0x20008086
	RemoteVersion     uint32 = 1
	KeepaliveProgram  uint32 = 0x6b656570 // "keep"
	KeepaliveVersion  uint32 = 1
	QEMUProgram       uint32 = 0x20008087
	LXCProgram        uint32 = 0x00068000
	KeepaliveProcPing        = 1
	KeepaliveProcPong        = 2
)

// MessageType is the header's type field.
type MessageType uint32

// Message types (virNetMessageType).
const (
	Call          MessageType = 0
	Reply         MessageType = 1
	Message       MessageType = 2
	Stream        MessageType = 3
	CallWithFDs   MessageType = 4
	ReplyWithFDs  MessageType = 5
	StreamHole    MessageType = 6
	lastMsgTypeID             = StreamHole
)

func (t MessageType) String() string {
	names := [...]string{"CALL", "REPLY", "MESSAGE", "STREAM", "CALL_WITH_FDS", "REPLY_WITH_FDS", "STREAM_HOLE"}
	if t <= lastMsgTypeID {
		return names[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// Status is the header's status field.
type Status uint32

// Statuses (virNetMessageStatus).
const (
	StatusOK       Status = 0
	StatusError    Status = 1
	StatusContinue Status = 2
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusError:
		return "ERROR"
	case StatusContinue:
		return "CONTINUE"
	}
	return fmt.Sprintf("status(%d)", uint32(s))
}

// Header is the fixed 24-byte header after a frame's length word: six XDR
// words in this order.
type Header struct {
	Program   uint32
	Version   uint32
	Procedure int32
	Type      MessageType
	Serial    uint32
	Status    Status
}

// Put writes h into the first HeaderSize bytes of b.
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
