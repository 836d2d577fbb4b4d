package protocol

// Limits of libvirt 9.0 (src/rpc/virnetprotocol.x, src/remote/remote_protocol.x).
// Every length read from the wire is checked against one of these before
// any memory is allocated for it.
const (
	// MessageMax is the largest message after the length word (header and
	// body): a frame's length word may be at most LengthSize+MessageMax.
	MessageMax = 32 * 1024 * 1024
	// MessageInitial is the buffer size libvirt starts a message with.
	MessageInitial = 65536
	// LengthSize is the size of the big-endian length word that starts a frame.
	LengthSize = 4
	// HeaderSize is the size of the encoded Header.
	HeaderSize = 24
	// MinFrame is the smallest valid value of the length word: the word
	// counts itself, and a header must follow.
	MinFrame = LengthSize + HeaderSize
	// PayloadMax is the largest body after the header.
	PayloadMax = MessageMax - HeaderSize
	// StringMax bounds every remote_string and remote_nonnull_string.
	StringMax = 4194304
	// NumFDsMax bounds the fd count of *_WITH_FDS messages.
	NumFDsMax = 32

	DomainListMax     = 16384
	NetworkListMax    = 16384
	AuthTypeListMax   = 20
	SecurityModelMax  = 257
	SecurityDOIMax    = 257
	SecurityLabelMax  = 4097
	DomainMessagesMax = 2048
)
