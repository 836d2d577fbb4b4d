// Package protocol holds the wire types of libvirt's remote RPC protocol:
// the frame header, the error payload, program and procedure numbers, the
// argument and return structs of the procedures govirtd serves, event
// payloads, and the size limits of libvirt 9.0.
//
// It does no I/O. Bodies are encoded and decoded with Marshal and
// Unmarshal, which walk a Go struct in field order (XDR has no field names)
// on top of the primitives of github.com/davecgh/go-xdr/xdr2, adding what
// libvirt's rpcgen output needs and xdr2 lacks: optional data (a Go
// pointer), per-field maximum lengths, and 4-byte chars.
package protocol
