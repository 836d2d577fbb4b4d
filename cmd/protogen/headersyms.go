package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// headerSyms is what the protocol definitions need from libvirt's public
// headers: the integer values of the macros and enumerators they name
// (VIR_UUID_BUFLEN, VIR_TYPED_PARAM_INT, VIR_DOMAIN_XML_SECURE in an @acl)
// and the names of the public API functions, which give each procedure
// its API name.
type headerSyms struct {
	values map[string]int64
	funcs  map[string]string // lower-case name without "vir" → virName
}

var (
	reDefine  = regexp.MustCompile(`(?m)^#\s*define\s+(VIR_[A-Z0-9_]+)\s+(.+)$`)
	reEnum    = regexp.MustCompile(`(?s)typedef\s+enum\s*\{(.*?)\}\s*(\w+)\s*;`)
	reItem    = regexp.MustCompile(`^\s*(VIR_[A-Z0-9_]+)\s*(?:=\s*(.+?))?\s*$`)
	reFunc    = regexp.MustCompile(`\b(vir[A-Z]\w*)\s*\(`)
	reComment = regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)
)

func readHeaders(dir string) (*headerSyms, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.h"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no libvirt headers in %s", dir)
	}
	// The typed-parameter types live in the template meson fills in.
	files = append(files, filepath.Join(dir, "libvirt-common.h.in"))
	sort.Strings(files)
	h := &headerSyms{values: map[string]int64{}, funcs: map[string]string{}}
	var pendingDefines [][2]string
	var texts []string
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		text := reComment.ReplaceAllString(string(src), "")
		texts = append(texts, text)
		for _, m := range reDefine.FindAllStringSubmatch(text, -1) {
			pendingDefines = append(pendingDefines, [2]string{m[1], strings.TrimSpace(m[2])})
		}
		for _, m := range reFunc.FindAllStringSubmatch(text, -1) {
			h.funcs[strings.ToLower(strings.TrimPrefix(m[1], "vir"))] = m[1]
		}
	}
	// Headers name each other's enumerators (the snapshot flags use the
	// domain's), so enums are read in passes until every value settles;
	// only the last pass reports what still does not evaluate.
	const passes = 3
	for pass := 1; pass <= passes; pass++ {
		for i, text := range texts {
			if err := h.readEnums(text); err != nil && pass == passes {
				return nil, fmt.Errorf("%s: %w", files[i], err)
			}
		}
	}
	// Macros may name later macros; a few passes settle them. Those that
	// are not integer expressions (strings, types) are simply not values.
	for pass := 0; pass < 3; pass++ {
		for _, d := range pendingDefines {
			if v, err := evalC(d[1], h.values); err == nil {
				h.values[d[0]] = v
			}
		}
	}
	return h, nil
}

func (h *headerSyms) readEnums(text string) error {
	var firstErr error
	for _, m := range reEnum.FindAllStringSubmatch(text, -1) {
		next := int64(0)
		for _, item := range strings.Split(m[1], ",") {
			item = strings.TrimSpace(stripPreprocessor(item))
			im := reItem.FindStringSubmatch(item)
			if im == nil {
				continue
			}
			if im[2] != "" {
				v, err := evalC(im[2], h.values)
				if err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("%s: %w", im[1], err)
					}
					break // the rest of this enum waits for the next pass
				}
				next = v
			}
			h.values[im[1]] = next
			next++
		}
	}
	return firstErr
}

// stripPreprocessor drops #ifdef lines inside an enum body.
func stripPreprocessor(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// evalC evaluates the integer constant expressions libvirt's headers use:
// numbers with U/L suffixes, names, parentheses, unary -, ~, and the
// binary operators | & + - << >> *.
func evalC(expr string, syms map[string]int64) (int64, error) {
	toks, err := cTokens(expr)
	if err != nil {
		return 0, err
	}
	e := &cExpr{toks: toks, syms: syms}
	v, err := e.binary(0)
	if err != nil {
		return 0, err
	}
	if e.pos != len(toks) {
		return 0, fmt.Errorf("cannot evaluate %q", expr)
	}
	return v, nil
}

func cTokens(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case strings.HasPrefix(s[i:], "<<") || strings.HasPrefix(s[i:], ">>"):
			toks = append(toks, s[i:i+2])
			i += 2
		case strings.ContainsRune("()|&+-~*", rune(c)):
			toks = append(toks, string(c))
			i++
		case c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] >= '0' && s[j] <= '9' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			return nil, fmt.Errorf("cannot evaluate %q", s)
		}
	}
	return toks, nil
}

type cExpr struct {
	toks []string
	pos  int
	syms map[string]int64
}

var cPrec = map[string]int{"|": 1, "&": 2, "<<": 3, ">>": 3, "+": 4, "-": 4, "*": 5}

func (e *cExpr) binary(minPrec int) (int64, error) {
	l, err := e.unary()
	if err != nil {
		return 0, err
	}
	for e.pos < len(e.toks) {
		op := e.toks[e.pos]
		p, ok := cPrec[op]
		if !ok || p < minPrec {
			break
		}
		e.pos++
		r, err := e.binary(p + 1)
		if err != nil {
			return 0, err
		}
		switch op {
		case "|":
			l |= r
		case "&":
			l &= r
		case "<<":
			l <<= uint(r)
		case ">>":
			l >>= uint(r)
		case "+":
			l += r
		case "-":
			l -= r
		case "*":
			l *= r
		}
	}
	return l, nil
}

func (e *cExpr) unary() (int64, error) {
	if e.pos >= len(e.toks) {
		return 0, fmt.Errorf("expression ends early")
	}
	t := e.toks[e.pos]
	e.pos++
	switch t {
	case "-":
		v, err := e.unary()
		return -v, err
	case "~":
		v, err := e.unary()
		return ^v, err
	case "(":
		v, err := e.binary(0)
		if err != nil {
			return 0, err
		}
		if e.pos >= len(e.toks) || e.toks[e.pos] != ")" {
			return 0, fmt.Errorf("missing )")
		}
		e.pos++
		return v, nil
	}
	if t[0] >= '0' && t[0] <= '9' {
		n := strings.TrimRight(t, "uUlL")
		v, err := strconv.ParseInt(n, 0, 64)
		if err != nil {
			u, err2 := strconv.ParseUint(n, 0, 64)
			if err2 != nil {
				return 0, err
			}
			v = int64(u)
		}
		return v, nil
	}
	if v, ok := e.syms[t]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("unknown name %s", t)
}
