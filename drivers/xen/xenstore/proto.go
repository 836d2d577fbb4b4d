// Package xenstore is a client of Xen's xenstored over its unix socket:
// the wire protocol (a 16-byte little-endian header, then a payload of
// NUL-separated strings), the requests a toolstack makes, transactions,
// watches and reconnection. It uses no third-party package.
package xenstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Op is a xenstore message type (xs_wire.h's enum xsd_sockmsg_type).
type Op uint32

// The message types this client sends or receives.
const (
	OpControl            Op = 0
	OpDirectory          Op = 1
	OpRead               Op = 2
	OpGetPerms           Op = 3
	OpWatch              Op = 4
	OpUnwatch            Op = 5
	OpTransactionStart   Op = 6
	OpTransactionEnd     Op = 7
	OpIntroduce          Op = 8
	OpRelease            Op = 9
	OpGetDomainPath      Op = 10
	OpWrite              Op = 11
	OpMkdir              Op = 12
	OpRm                 Op = 13
	OpSetPerms           Op = 14
	OpWatchEvent         Op = 15
	OpError              Op = 16
	OpIsDomainIntroduced Op = 17
	OpResume             Op = 18
	OpSetTarget          Op = 19
	OpResetWatches       Op = 21
	opMax                Op = 32 // above every type xenstored defines
)

var opNames = map[Op]string{
	OpControl: "CONTROL", OpDirectory: "DIRECTORY", OpRead: "READ",
	OpGetPerms: "GET_PERMS", OpWatch: "WATCH", OpUnwatch: "UNWATCH",
	OpTransactionStart: "TRANSACTION_START", OpTransactionEnd: "TRANSACTION_END",
	OpIntroduce: "INTRODUCE", OpRelease: "RELEASE", OpGetDomainPath: "GET_DOMAIN_PATH",
	OpWrite: "WRITE", OpMkdir: "MKDIR", OpRm: "RM", OpSetPerms: "SET_PERMS",
	OpWatchEvent: "WATCH_EVENT", OpError: "ERROR",
	OpIsDomainIntroduced: "IS_DOMAIN_INTRODUCED", OpResume: "RESUME",
	OpSetTarget: "SET_TARGET", OpResetWatches: "RESET_WATCHES",
}

func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("OP_%d", uint32(o))
}

// HeaderSize is the size of a message header: type, req_id, tx_id, len,
// each a little-endian uint32.
const HeaderSize = 16

// PayloadMax is the largest payload xenstored sends or accepts
// (XENSTORE_PAYLOAD_MAX). A header announcing more is refused before
// anything is allocated.
const PayloadMax = 4096

// Msg is one xenstore message.
type Msg struct {
	Op      Op
	ReqID   uint32 // echoed by xenstored in the reply; 0 in a watch event
	TxID    uint32 // the transaction the request belongs to, 0 for none
	Payload []byte
}

// ErrFrame is wrapped by every error of a malformed message.
var ErrFrame = errors.New("malformed xenstore message")

// ReadMsg reads one message from r. The header's length is checked
// against PayloadMax and its type against the known range before the
// payload is allocated.
func ReadMsg(r io.Reader) (Msg, error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Msg{}, err
	}
	m := Msg{
		Op:    Op(binary.LittleEndian.Uint32(h[0:])),
		ReqID: binary.LittleEndian.Uint32(h[4:]),
		TxID:  binary.LittleEndian.Uint32(h[8:]),
	}
	n := binary.LittleEndian.Uint32(h[12:])
	if n > PayloadMax {
		return Msg{}, fmt.Errorf("%w: %s payload of %d bytes exceeds the %d-byte limit", ErrFrame, m.Op, n, PayloadMax)
	}
	if m.Op >= opMax {
		return Msg{}, fmt.Errorf("%w: unknown message type %d", ErrFrame, uint32(m.Op))
	}
	m.Payload = make([]byte, n)
	if _, err := io.ReadFull(r, m.Payload); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Msg{}, fmt.Errorf("%s payload: %w", m.Op, err)
	}
	return m, nil
}

// Encode returns m on the wire. It fails for a payload over PayloadMax,
// which xenstored would refuse.
func (m Msg) Encode() ([]byte, error) {
	if len(m.Payload) > PayloadMax {
		return nil, fmt.Errorf("%s request of %d bytes exceeds xenstore's %d-byte limit", m.Op, len(m.Payload), PayloadMax)
	}
	b := make([]byte, HeaderSize+len(m.Payload))
	binary.LittleEndian.PutUint32(b[0:], uint32(m.Op))
	binary.LittleEndian.PutUint32(b[4:], m.ReqID)
	binary.LittleEndian.PutUint32(b[8:], m.TxID)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(m.Payload)))
	copy(b[HeaderSize:], m.Payload)
	return b, nil
}

// strings0 joins each argument followed by a NUL, as requests name
// their paths and arguments.
func strings0(args ...string) []byte {
	n := 0
	for _, a := range args {
		n += len(a) + 1
	}
	b := make([]byte, 0, n)
	for _, a := range args {
		b = append(b, a...)
		b = append(b, 0)
	}
	return b
}

// splitStrings splits a payload of NUL-terminated strings (a directory
// listing, a permission list, a watch event). A trailing fragment
// without its NUL is kept.
func splitStrings(p []byte) []string {
	var out []string
	for len(p) > 0 {
		i := 0
		for i < len(p) && p[i] != 0 {
			i++
		}
		out = append(out, string(p[:i]))
		if i == len(p) {
			break
		}
		p = p[i+1:]
	}
	return out
}

// trimNUL drops one trailing NUL (replies such as "OK\x00" or a
// transaction id carry one).
func trimNUL(p []byte) string {
	if n := len(p); n > 0 && p[n-1] == 0 {
		p = p[:n-1]
	}
	return string(p)
}
