package remote

import (
	"context"

	"github.com/govirt/govirtd/protocol"
)

// SecurityModel is virSecurityModel: the host's security driver (such as
// "selinux" or "apparmor") and its domain of interpretation. An empty
// Model means no security driver is active.
type SecurityModel struct {
	Model string
	DOI   string
}

// SecurityLabel is virSecurityLabel: a running domain's security label.
type SecurityLabel struct {
	Label     string
	Enforcing bool
}

// cString reads a NUL-terminated char array of the wire.
func cString(chars []int8) string {
	b := make([]byte, 0, len(chars))
	for _, ch := range chars {
		if ch == 0 {
			break
		}
		b = append(b, byte(ch))
	}
	return string(b)
}

// NodeGetSecurityModel asks for the host's security model; a daemon that
// does not know the procedure gives ErrNoSupport.
func (c *Conn) NodeGetSecurityModel(ctx context.Context) (SecurityModel, error) {
	var ret protocol.NodeGetSecurityModelRet
	if err := c.call(ctx, protocol.ProcNodeGetSecurityModel, nil, &ret); err != nil {
		return SecurityModel{}, err
	}
	return SecurityModel{Model: cString(ret.Model), DOI: cString(ret.DOI)}, nil
}

// DomainGetSecurityLabel asks for dom's security label.
func (c *Conn) DomainGetSecurityLabel(ctx context.Context, dom Domain) (SecurityLabel, error) {
	var ret protocol.DomainGetSecurityLabelRet
	if err := c.call(ctx, protocol.ProcDomainGetSecurityLabel, &protocol.DomainGetSecurityLabelArgs{Dom: dom}, &ret); err != nil {
		return SecurityLabel{}, err
	}
	return SecurityLabel{Label: cString(ret.Label), Enforcing: ret.Enforcing != 0}, nil
}

// DomainGetMessages returns the messages the hypervisor keeps about dom
// (tainting, deprecations); flags are virDomainMessageType.
func (c *Conn) DomainGetMessages(ctx context.Context, dom Domain, flags uint32) ([]string, error) {
	var ret protocol.DomainGetMessagesRet
	err := c.call(ctx, protocol.ProcDomainGetMessages, &protocol.DomainGetMessagesArgs{Dom: dom, Flags: flags}, &ret)
	return ret.Msgs, err
}
