package domxml

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"libvirt.org/go/libvirtxml"

	"github.com/govirt/govirtd/drivers"
	"github.com/govirt/govirtd/vir"
)

// A domain's metadata (virDomainGetMetadata, virDomainSetMetadata): its
// <title>, its <description>, and the elements of <metadata>, one per
// namespace, which applications keep there. An element is set without a
// namespace and stored with every element of it in the namespace uri
// under prefix key; it is got back without the prefix. Both ways it is
// written as libvirt writes it (libxml2's formatting: elements holding
// only elements are indented by two spaces, others left as they are).

// MetadataValue is a checked new value for SetMetadata.
type MetadataValue struct {
	Type  vir.DomainMetadataType
	Value string // "" removes
	URI   string // for an element
	el    *xnode // the element, prefixed; nil removes
}

// NoMetadata is the error for metadata that is not there.
func NoMetadata(from vir.ErrorDomain) error {
	return drivers.Errorf(vir.ErrNoDomainMetadata, from, "Requested metadata element is not present")
}

// CheckMetadata checks what virDomainSetMetadata was given: a title on
// one line; for an element its namespace uri and, when it sets one,
// a prefix key that is an XML name and a value that is one well-formed
// element.
func CheckMetadata(typ int32, value, key, uri *string, from vir.ErrorDomain) (*MetadataValue, error) {
	m := &MetadataValue{Type: vir.DomainMetadataType(typ)}
	if value != nil {
		m.Value = *value
	}
	switch m.Type {
	case vir.DomainMetadataDescription:
	case vir.DomainMetadataTitle:
		if strings.Contains(m.Value, "\n") {
			return nil, drivers.Errorf(vir.ErrInvalidArg, from, "metadata title can't contain newlines")
		}
	case vir.DomainMetadataElement:
		if uri == nil || *uri == "" {
			return nil, drivers.Errorf(vir.ErrInvalidArg, from, "a metadata element is named by its namespace URI: give one")
		}
		m.URI = *uri
		if m.Value == "" {
			return m, nil
		}
		if key == nil || !xmlNameOK(*key) {
			k := ""
			if key != nil {
				k = *key
			}
			return nil, drivers.Errorf(vir.ErrInvalidArg, from, "metadata namespace prefix (key) %q is not an XML name", k)
		}
		el, err := parseElement(m.Value)
		if err != nil {
			return nil, drivers.Errorf(vir.ErrXMLError, from, "metadata must be one well-formed XML element: %v", err)
		}
		el.prefix(*key)
		el.attrs = append([]xml.Attr{{Name: xml.Name{Space: "xmlns", Local: *key}, Value: m.URI}}, el.attrs...)
		m.el = el
	default:
		return nil, drivers.Errorf(vir.ErrInvalidArg, from, "unknown metadata type %d", typ)
	}
	return m, nil
}

// GetMetadata is def's description, title or element of namespace uri;
// NoMetadata when it has none.
func (d *Def) GetMetadata(typ int32, uri *string, from vir.ErrorDomain) (string, error) {
	var out string
	switch vir.DomainMetadataType(typ) {
	case vir.DomainMetadataDescription:
		out = d.XML.Description
	case vir.DomainMetadataTitle:
		out = d.XML.Title
	case vir.DomainMetadataElement:
		if uri == nil || *uri == "" {
			return "", drivers.Errorf(vir.ErrInvalidArg, from, "a metadata element is named by its namespace URI: give one")
		}
		els, err := d.metadataElements()
		if err != nil {
			return "", drivers.Errorf(vir.ErrInternalError, from, "domain %s: %v", d.Name(), err)
		}
		for _, el := range els {
			if el.namespace() == *uri {
				c := el.unprefixed()
				var b strings.Builder
				c.write(&b, 0, true)
				out = b.String()
				break
			}
		}
	default:
		return "", drivers.Errorf(vir.ErrInvalidArg, from, "unknown metadata type %d", typ)
	}
	if out == "" {
		return "", NoMetadata(from)
	}
	return out, nil
}

// SetMetadata sets m in def (which the caller owns).
func (d *Def) SetMetadata(m *MetadataValue) error {
	switch m.Type {
	case vir.DomainMetadataDescription:
		d.XML.Description = m.Value
		return nil
	case vir.DomainMetadataTitle:
		d.XML.Title = m.Value
		return nil
	}
	els, err := d.metadataElements()
	if err != nil {
		return drivers.Errorf(vir.ErrInternalError, vir.FromDomain, "domain %s: %v", d.Name(), err)
	}
	var keep []*xnode
	for _, el := range els {
		if el.namespace() != m.URI {
			keep = append(keep, el)
		}
	}
	if m.el != nil {
		keep = append(keep, m.el)
	}
	if len(keep) == 0 {
		d.XML.Metadata = nil
		return nil
	}
	var b strings.Builder
	for _, el := range keep {
		b.WriteString("\n    ")
		el.write(&b, 2, true)
	}
	b.WriteString("\n  ")
	d.XML.Metadata = &libvirtxml.DomainMetadata{XML: b.String()}
	return nil
}

// metadataElements are the elements of def's <metadata>.
func (d *Def) metadataElements() ([]*xnode, error) {
	if d.XML.Metadata == nil {
		return nil, nil
	}
	root, err := parseNodes(d.XML.Metadata.XML)
	if err != nil {
		return nil, fmt.Errorf("<metadata> is not well formed: %v", err)
	}
	var out []*xnode
	for _, k := range root.kids {
		if el, ok := k.(*xnode); ok {
			out = append(out, el)
		}
	}
	return out, nil
}

// xnode is an element as written: its qualified name and attributes
// with their prefixes, and its children (*xnode, or text as a string).
type xnode struct {
	name  xml.Name // Space is the prefix
	attrs []xml.Attr
	kids  []any
}

// parseElement parses exactly one element (comments and processing
// instructions dropped).
func parseElement(doc string) (*xnode, error) {
	root, err := parseNodes(doc)
	if err != nil {
		return nil, err
	}
	var el *xnode
	for _, k := range root.kids {
		switch k := k.(type) {
		case *xnode:
			if el != nil {
				return nil, errors.New("more than one top-level element")
			}
			el = k
		case string:
			if strings.TrimSpace(k) != "" {
				return nil, errors.New("text outside the element")
			}
		}
	}
	if el == nil {
		return nil, errors.New("no element")
	}
	return el, nil
}

// parseNodes parses a sequence of nodes into the children of a nameless
// root. Text that is only white space beside elements is dropped, as
// libvirt's parser drops it.
func parseNodes(doc string) (*xnode, error) {
	dec := xml.NewDecoder(strings.NewReader(doc))
	root := &xnode{}
	stack := []*xnode{root}
	for {
		tok, err := dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: t.Name, attrs: append([]xml.Attr(nil), t.Attr...)}
			top.kids = append(top.kids, n)
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 1 || t.Name != top.name {
				return nil, fmt.Errorf("unexpected </%s>", qname(t.Name))
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.kids = append(top.kids, string(t))
		}
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("<%s> is not closed", qname(stack[len(stack)-1].name))
	}
	dropBlanks(root)
	return root, nil
}

func dropBlanks(n *xnode) {
	hasEl := false
	for _, k := range n.kids {
		if c, ok := k.(*xnode); ok {
			hasEl = true
			dropBlanks(c)
		}
	}
	if !hasEl {
		return
	}
	kids := n.kids[:0]
	for _, k := range n.kids {
		if s, ok := k.(string); ok && strings.TrimSpace(s) == "" {
			continue
		}
		kids = append(kids, k)
	}
	n.kids = kids
}

// namespace is the URI the element's prefix (or default namespace) is
// declared with on the element itself.
func (n *xnode) namespace() string {
	for _, a := range n.attrs {
		if n.name.Space == "" && a.Name.Space == "" && a.Name.Local == "xmlns" ||
			n.name.Space != "" && a.Name.Space == "xmlns" && a.Name.Local == n.name.Space {
			return a.Value
		}
	}
	return ""
}

// prefix puts n and every element in it under prefix key, dropping a
// default namespace declaration.
func (n *xnode) prefix(key string) {
	n.name.Space = key
	attrs := n.attrs[:0]
	for _, a := range n.attrs {
		if !(a.Name.Space == "" && a.Name.Local == "xmlns") {
			attrs = append(attrs, a)
		}
	}
	n.attrs = attrs
	for _, k := range n.kids {
		if c, ok := k.(*xnode); ok {
			c.prefix(key)
		}
	}
}

// unprefixed is a copy of n with its own prefix taken off it and the
// elements in it of that prefix, and the prefix's declaration dropped.
func (n *xnode) unprefixed() *xnode {
	key := n.name.Space
	var strip func(*xnode) *xnode
	strip = func(e *xnode) *xnode {
		c := &xnode{name: e.name}
		if c.name.Space == key {
			c.name.Space = ""
		}
		for _, a := range e.attrs {
			if !(key != "" && a.Name.Space == "xmlns" && a.Name.Local == key) && !(key == "" && a.Name.Space == "" && a.Name.Local == "xmlns") {
				c.attrs = append(c.attrs, a)
			}
		}
		for _, k := range e.kids {
			if ce, ok := k.(*xnode); ok {
				c.kids = append(c.kids, strip(ce))
			} else {
				c.kids = append(c.kids, k)
			}
		}
		return c
	}
	return strip(n)
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// write formats n at indentation level (two spaces each) as libxml2
// does with formatting on: an element whose children are all elements
// has each on its own line; one with text in it is written as it is.
func (n *xnode) write(b *strings.Builder, level int, format bool) {
	b.WriteString("<" + qname(n.name))
	for _, a := range n.attrs {
		b.WriteString(" " + qname(a.Name) + `="` + escape(a.Value, true) + `"`)
	}
	if len(n.kids) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteString(">")
	for _, k := range n.kids {
		if _, ok := k.(string); ok {
			format = false
		}
	}
	for _, k := range n.kids {
		switch k := k.(type) {
		case string:
			b.WriteString(escape(k, false))
		case *xnode:
			if format {
				b.WriteString("\n" + strings.Repeat("  ", level+1))
			}
			k.write(b, level+1, format)
		}
	}
	if format {
		b.WriteString("\n" + strings.Repeat("  ", level))
	}
	b.WriteString("</" + qname(n.name) + ">")
}

// escape escapes text, or an attribute value, as libxml2 writes them.
func escape(s string, attr bool) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '\r':
			b.WriteString("&#13;")
		case attr && r == '"':
			b.WriteString("&quot;")
		case attr && r == '\n':
			b.WriteString("&#10;")
		case attr && r == '\t':
			b.WriteString("&#9;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
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
