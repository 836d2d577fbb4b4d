package test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/drivers/domxml"
	"github.com/govirt/govirtd/protocol"
	"github.com/govirt/govirtd/vir"
)

func noMetadata() error {
	return drivers.Errorf(vir.ErrNoDomainMetadata, vir.FromTest, "Requested metadata element is not present")
}

// DomainGetMetadata answers the description, the title or the
// <metadata> element of namespace uri of the live or persistent
// definition (drivers.OpDomainGetMetadata). An element comes back
// without its namespace prefix, as it was set.
func (c *conn) DomainGetMetadata(ctx context.Context, ref protocol.Domain, typ int32, uri *string, flags uint32) (out string, err error) {
	if flags&^(affectLive|affectConfig) != 0 {
		return "", badFlags(flags, "testDomainGetMetadata")
	}
	err = c.drv.withDomain(ref, func(dom *domain) error {
		def, _, err := oneDef(dom, flags)
		if err != nil {
			return err
		}
		switch vir.DomainMetadataType(typ) {
		case vir.DomainMetadataDescription:
			out = def.XML.Description
		case vir.DomainMetadataTitle:
			out = def.XML.Title
		case vir.DomainMetadataElement:
			if uri == nil || *uri == "" {
				return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "a metadata element is looked up by its namespace URI: give one")
			}
			els, err := metadataElements(def)
			if err != nil {
				return err
			}
			for _, e := range els {
				if e.uri == *uri {
					out, err = e.unprefixed()
					return err
				}
			}
		default:
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "unknown metadata type %d", typ)
		}
		if out == "" {
			return noMetadata()
		}
		return nil
	})
	return out, err
}

// DomainSetMetadata sets or, with no value, removes the description,
// the title or the element of namespace uri (stored with prefix key) of
// the live and/or persistent definition, and raises a metadata change
// event (drivers.OpDomainSetMetadata).
func (c *conn) DomainSetMetadata(ctx context.Context, ref protocol.Domain, typ int32, metadata, key, uri *string, flags uint32) error {
	if flags&^(affectLive|affectConfig) != 0 {
		return badFlags(flags, "testDomainSetMetadata")
	}
	value := ""
	if metadata != nil {
		value = *metadata
	}
	t := vir.DomainMetadataType(typ)
	var el *metaElement
	switch t {
	case vir.DomainMetadataDescription:
	case vir.DomainMetadataTitle:
		if strings.Contains(value, "\n") {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "title can't contain newlines")
		}
	case vir.DomainMetadataElement:
		if uri == nil || *uri == "" {
			return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "a metadata element needs a namespace URI")
		}
		if value != "" {
			if key == nil || *key == "" {
				return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "a metadata element needs a namespace prefix (key)")
			}
			var err error
			if el, err = parseMetadata(value, *key, *uri); err != nil {
				return err
			}
		}
	default:
		return drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "unknown metadata type %d", typ)
	}
	d := c.drv
	return d.withDomain(ref, func(dom *domain) error {
		live, config, err := bothDefs(dom, flags)
		if err != nil {
			return err
		}
		for _, def := range []*domxml.Def{live, config} {
			if def == nil {
				continue
			}
			switch t {
			case vir.DomainMetadataDescription:
				def.XML.Description = value
			case vir.DomainMetadataTitle:
				def.XML.Title = value
			default:
				if err := setMetadataElement(def, *uri, el); err != nil {
					return err
				}
			}
		}
		var nsuri *string
		if t == vir.DomainMetadataElement {
			u := *uri
			nsuri = &u
		}
		ev := dom.ref()
		d.events.Emit(drivers.WireEvent{ID: vir.DomainEventIDMetadataChange, Dom: ev, Msg: func() protocol.CallbackMsg {
			return &protocol.DomainEventCallbackMetadataChangeMsg{Dom: ev, Type: typ, Nsuri: nsuri}
		}})
		return nil
	})
}

// metaElement is one element of <metadata>: its namespace and its XML
// as stored, with the namespace's prefix.
type metaElement struct {
	uri string
	raw string
}

// metadataElements splits def's <metadata> into its elements.
func metadataElements(def *domxml.Def) ([]metaElement, error) {
	if def.XML.Metadata == nil {
		return nil, nil
	}
	inner := def.XML.Metadata.XML
	dec := xml.NewDecoder(strings.NewReader(inner))
	var out []metaElement
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, drivers.Errorf(vir.ErrInternalError, vir.FromTest, "domain <metadata> is not well formed: %v", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if err := dec.Skip(); err != nil {
			return nil, drivers.Errorf(vir.ErrInternalError, vir.FromTest, "domain <metadata> is not well formed: %v", err)
		}
		out = append(out, metaElement{uri: se.Name.Space, raw: inner[start:dec.InputOffset()]})
	}
}

// setMetadataElement replaces def's element of namespace uri by el, or
// removes it when el is nil.
func setMetadataElement(def *domxml.Def, uri string, el *metaElement) error {
	els, err := metadataElements(def)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, e := range els {
		if e.uri != uri {
			b.WriteString(e.raw)
		}
	}
	if el != nil {
		b.WriteString(el.raw)
	}
	if b.Len() == 0 {
		def.XML.Metadata = nil
	} else {
		def.XML.Metadata = &libvirtxml.DomainMetadata{XML: b.String()}
	}
	return nil
}

// parseMetadata checks that value is one XML element and returns it
// with every element in namespace uri under prefix key, as libvirt
// stores it.
func parseMetadata(value, key, uri string) (*metaElement, error) {
	if !xmlNameOK(key) {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "metadata prefix %q is not an XML name", key)
	}
	toks, err := elementTokens(value)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	enc := xml.NewEncoder(&b)
	for i, tok := range toks {
		switch t := tok.(type) {
		case xml.StartElement:
			t.Name = xml.Name{Local: key + ":" + t.Name.Local}
			t.Attr = flatAttrs(t.Attr)
			if i == 0 {
				t.Attr = append([]xml.Attr{{Name: xml.Name{Local: "xmlns:" + key}, Value: uri}}, t.Attr...)
			}
			tok = t
		case xml.EndElement:
			tok = xml.EndElement{Name: xml.Name{Local: key + ":" + t.Name.Local}}
		}
		if err := enc.EncodeToken(tok); err != nil {
			return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "cannot store metadata: %v", err)
		}
	}
	if err := enc.Flush(); err != nil {
		return nil, drivers.Errorf(vir.ErrInvalidArg, vir.FromTest, "cannot store metadata: %v", err)
	}
	return &metaElement{uri: uri, raw: b.String()}, nil
}

// elementTokens parses a single XML element, with namespaces left as
// written, into its tokens (comments and processing instructions
// dropped).
func elementTokens(value string) ([]xml.Token, error) {
	bad := func(err error) error {
		return drivers.Errorf(vir.ErrXMLError, vir.FromTest, "metadata must be one well-formed XML element: %v", err)
	}
	dec := xml.NewDecoder(strings.NewReader(value))
	var toks []xml.Token
	depth, roots := 0, 0
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, bad(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
			toks = append(toks, t.Copy())
		case xml.EndElement:
			depth--
			toks = append(toks, t)
		case xml.CharData:
			if depth == 0 {
				if strings.TrimSpace(string(t)) != "" {
					return nil, bad(errors.New("text outside the element"))
				}
				continue
			}
			toks = append(toks, t.Copy())
		}
	}
	if roots != 1 || depth != 0 {
		return nil, bad(fmt.Errorf("found %d top-level elements", roots))
	}
	return toks, nil
}

// unprefixed is the element as it was set: without the namespace
// prefix and declaration the driver added.
func (e metaElement) unprefixed() (string, error) {
	toks, err := elementTokens(e.raw)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	enc := xml.NewEncoder(&b)
	for _, tok := range toks {
		switch t := tok.(type) {
		case xml.StartElement:
			t.Name = xml.Name{Local: t.Name.Local}
			var attrs []xml.Attr
			for _, a := range t.Attr {
				if a.Name.Space != "xmlns" {
					attrs = append(attrs, a)
				}
			}
			t.Attr = flatAttrs(attrs)
			tok = t
		case xml.EndElement:
			tok = xml.EndElement{Name: xml.Name{Local: t.Name.Local}}
		}
		if err := enc.EncodeToken(tok); err != nil {
			return "", drivers.Errorf(vir.ErrInternalError, vir.FromTest, "cannot format metadata: %v", err)
		}
	}
	if err := enc.Flush(); err != nil {
		return "", drivers.Errorf(vir.ErrInternalError, vir.FromTest, "cannot format metadata: %v", err)
	}
	return b.String(), nil
}

// xmlNameOK reports whether s can be a namespace prefix.
func xmlNameOK(s string) bool {
	for i, r := range s {
		ok := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && (r == '-' || r == '.' || r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return s != "" && !strings.HasPrefix(strings.ToLower(s), "xml")
}

// flatAttrs writes attribute prefixes into their names, so that the
// encoder copies them as written instead of declaring namespaces.
func flatAttrs(attrs []xml.Attr) []xml.Attr {
	out := make([]xml.Attr, len(attrs))
	for i, a := range attrs {
		out[i] = a
		if a.Name.Space != "" {
			out[i].Name = xml.Name{Local: a.Name.Space + ":" + a.Name.Local}
		}
	}
	return out
}
