// Package protocol holds the wire types of libvirt's remote RPC protocol,
// generated from libvirt 9.0's protocol definitions by cmd/protogen: the
// frame header and error payload (virnetprotocol.x), the programs and
// their procedures (remote, QEMU, LXC, admin, keepalive) with each one's
// names, types and access class, every argument, return and event struct
// with its limits, and an explicit XDR codec for each.
//
// It does no I/O. Bodies are encoded with Marshal and decoded with
// Unmarshal, which call the generated EncodeXDR and DecodeXDR methods over
// the primitives of codec.go. See README.md for how the generator works.
package protocol
