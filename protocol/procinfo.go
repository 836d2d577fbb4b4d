package protocol

// ProcInfo is what libvirt's protocol definition says of one procedure:
// its names, its argument and return types, and its annotations. The
// tables of it (procedures.gen.go) are generated; see README.md.
type ProcInfo struct {
	Name string // the wire name: "DOMAIN_GET_INFO"
	API  string // the public API function it implements: "virDomainGetInfo"
	// ErrorDomain is the error domain (virErrorDomain) libvirt reports
	// that function's own errors in: VIR_FROM_DOMAIN for virDomain*,
	// VIR_FROM_NETWORK for virNetwork*, …
	ErrorDomain int32
	// Concern is the driver table the API is in: which of the
	// connection's drivers serves the call.
	Concern Concern
	// Args and Ret name the Go types of the body; "" for void.
	Args, Ret string
	// Message marks an event the daemon sends; a client never calls it.
	Message bool
	// HighPriority is @priority: high: libvirt runs the call without a
	// job, on its high-priority workers.
	HighPriority bool
	Stream       StreamKind // @readstream or @writestream
	ACL          []string   // the @acl rules, as written
	// Write, WriteFlags and WriteWhen are the access class the @acl rules
	// give: a read-only client is refused the call always (Write), when
	// the arguments' flags hold any of WriteFlags, or when the condition
	// WriteWhen on the arguments holds.
	Write      bool
	WriteFlags uint32
	WriteWhen  string
}

// Body is a pointer to a generated type: it encodes and decodes itself.
type Body interface {
	Encodable
	Decodable
}

// StreamKind says whether a procedure opens a stream, and which way.
type StreamKind uint8

const (
	StreamNone  StreamKind = iota
	StreamRead             // the daemon sends data (@readstream: a download)
	StreamWrite            // the client sends data (@writestream: an upload)
)

// RemoteProc returns what the definition says of procedure p of the
// remote program, or false for a number libvirt 9.0 does not define.
func RemoteProc(p Procedure) (*ProcInfo, bool) { return lookupProc(remoteProcs[:], int64(p)) }

// QemuProc is RemoteProc for the QEMU program.
func QemuProc(p QemuProcedure) (*ProcInfo, bool) { return lookupProc(qemuProcs[:], int64(p)) }

// AdminProc is RemoteProc for the admin program.
func AdminProc(p AdminProcedure) (*ProcInfo, bool) { return lookupProc(adminProcs[:], int64(p)) }

// RemoteProcedures lists every procedure number of the remote program.
func RemoteProcedures() []Procedure {
	var out []Procedure
	for i := range remoteProcs {
		if remoteProcs[i].Name != "" {
			out = append(out, Procedure(i))
		}
	}
	return out
}

func lookupProc(table []ProcInfo, n int64) (*ProcInfo, bool) {
	if n < 0 || n >= int64(len(table)) || table[n].Name == "" {
		return nil, false
	}
	return &table[n], true
}

// EventProcs are the message procedures that carry one event id: the
// message with a callback id (CONNECT_*_EVENT_CALLBACK_REGISTER_ANY
// registrations) and, for the domain events that predate callback ids,
// the legacy message (0 when there is none).
type EventProcs struct {
	Callback, Legacy Procedure
}

// CallbackMsg is an event message with a callback id, the first field of
// every such message. A driver raises an event as one; the daemon sets the
// id per registration and sends Legacy() to legacy registrations.
type CallbackMsg interface {
	Body
	SetCallbackID(id int32)
	EventCallbackID() int32
	Legacy() Encodable
}

// DomainCallbackMsg is a domain event's message with a callback id.
type DomainCallbackMsg interface {
	CallbackMsg
	EventDomain() Domain
}
