package main

// This file writes the vocabulary package, vir, from libvirt's public C
// headers: every enum becomes a Go type with one typed constant per
// enumerator, and every #define of a string or of an integer expression
// becomes an untyped constant. Names, numbers and strings are protocol
// facts and carry over; libvirt's comments do not: the only comments in the
// output are generated ones naming the C identifier.
//
// The reader is a small C preprocessor and enum parser, enough for
// libvirt's headers and strict about the rest: comments are dropped,
// backslash-continued lines joined, and conditionals followed as a C
// compiler would on a system that defines nothing: VIR_ENUM_SENTINELS is
// never defined, so the _LAST sentinels, which are not stable API, drop
// out, and `#if __GNUC__ > 3` takes its #else. Values are evaluated with
// C's integer rules (LP64): literal types from their suffix and size, the
// usual arithmetic conversions, wrap-around for unsigned types, and an
// error for signed overflow, so 1 << 31 is refused where 1U << 31 is
// 2147483648. An enum whose value refers to a name these headers do not
// define is left out whole, and a macro that is not a string, an integer
// or another constant's name is left out; verbose mode lists both.
//
// Naming rule. A C type loses its "vir" prefix and keeps its spelling:
// virDomainState is DomainState. A C constant loses "VIR_", and each of its
// underscore-separated words is capitalised (DOMAIN → Domain), except that a
// word that is exactly one of hdrInitialisms is written in capitals:
// VIR_DOMAIN_START_RESET_NVRAM is DomainStartResetNvram,
// VIR_DOMAIN_EVENT_ID_LIFECYCLE is DomainEventIDLifecycle, VIR_FROM_QEMU is
// FromQEMU, VIR_ERR_NO_SUPPORT is ErrNoSupport. Only whole words count:
// CPUS is Cpus and IPV4 is Ipv4. A string macro whose Go name is an enum
// type's takes the suffix Param, for it names the typed parameter carrying
// a value of that type: VIR_DOMAIN_JOB_OPERATION is DomainJobOperationParam
// beside the type DomainJobOperation. Any other two C names that give one
// Go name stop the generation with an error naming both.
//
// Types. An enum is a flag set when its C name ends in Flags or
// FlagsValues, or an enumerator is written with a shift or a hex literal,
// or refers to an enumerator of a flag set; a flag set is uint32 (int32 if
// it holds a negative value). Any other enum is int32 when its values fit,
// else uint32; values that fit neither stop the generation. Every enum that
// is not a flag set gets a String method returning the C name of a value,
// the first name when two share a value.

import (
	"bytes"
	"errors"
	"fmt"
	"go/format"
	gotoken "go/token"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// hdrLibvirtVersion is the libvirt release whose headers the generated
// package records; it is named in every generated file's first line.
const hdrLibvirtVersion = "9.0"

// hdrInitialisms are the words written in capitals in Go names. Keep the
// set small: each addition renames constants.
var hdrInitialisms = map[string]bool{
	"CPU": true, "ID": true, "IP": true, "MAC": true, "OS": true,
	"QEMU": true, "RPC": true, "TLS": true, "URI": true, "UUID": true,
	"XML": true,
}

// hdrHeader is one header genVocabulary reads and the file it writes.
type hdrHeader struct {
	names    []string // file names to try in includeDir, first found wins
	out      string   // output file name in outDir
	optional bool
}

// hdrHeaders is the order headers are read: libvirt-common.h first (it is
// generated at libvirt's build time, so a source tree has at most its .in
// template), then the order libvirt.h includes them, then the headers a
// program includes on its own. A value may refer to a name of an earlier
// header, as in C.
var hdrHeaders = []hdrHeader{
	{[]string{"libvirt-common.h", "libvirt-common.h.in"}, "common.gen.go", true},
	{[]string{"libvirt-host.h"}, "host.gen.go", false},
	{[]string{"libvirt-domain.h"}, "domain.gen.go", false},
	{[]string{"libvirt-domain-checkpoint.h"}, "domain_checkpoint.gen.go", false},
	{[]string{"libvirt-domain-snapshot.h"}, "domain_snapshot.gen.go", false},
	{[]string{"libvirt-event.h"}, "event.gen.go", false},
	{[]string{"libvirt-interface.h"}, "interface.gen.go", false},
	{[]string{"libvirt-network.h"}, "network.gen.go", false},
	{[]string{"libvirt-nodedev.h"}, "nodedev.gen.go", false},
	{[]string{"libvirt-nwfilter.h"}, "nwfilter.gen.go", false},
	{[]string{"libvirt-secret.h"}, "secret.gen.go", false},
	{[]string{"libvirt-storage.h"}, "storage.gen.go", false},
	{[]string{"libvirt-stream.h"}, "stream.gen.go", false},
	{[]string{"virterror.h"}, "error.gen.go", false},
	{[]string{"libvirt-qemu.h"}, "qemu.gen.go", false},
	{[]string{"libvirt-lxc.h"}, "lxc.gen.go", false},
	{[]string{"libvirt-admin.h"}, "admin.gen.go", false},
}

// vocabLogf receives what verbose mode reports: each macro or enum left
// out and why, and the totals. It is quiet unless main sets it.
var vocabLogf = func(format string, args ...any) {}

// genVocabulary reads libvirt's public headers from includeDir and writes
// the vir package's generated files into outDir.
func genVocabulary(includeDir, outDir string) error {
	rep, err := hdrGenerate(includeDir, outDir)
	if err != nil {
		return err
	}
	for _, s := range rep.skipped {
		vocabLogf("protogen: skipped %s", s)
	}
	vocabLogf("protogen: %s: %d enum types, %d enumerators, %d string macros, %d integer macros, %d alias macros",
		outDir, rep.enums, rep.enumerators, rep.strings, rep.ints, rep.aliases)
	return nil
}

// hdrReport counts what a generation wrote and lists what it left out.
type hdrReport struct {
	enums, enumerators, strings, ints, aliases int
	skipped                                    []string
}

func hdrGenerate(includeDir, outDir string) (*hdrReport, error) {
	set, outs, err := hdrLoad(includeDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	for i, f := range set.files {
		code, err := hdrRender(f)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(outDir, outs[i]), code, 0o644); err != nil {
			return nil, err
		}
	}
	return set.report(), nil
}

// hdrLoad reads and resolves the headers of includeDir; outs names the
// output file of each of set.files.
func hdrLoad(includeDir string) (set *hdrSet, outs []string, err error) {
	set = newHdrSet()
	for _, h := range hdrHeaders {
		path, src, err := hdrRead(includeDir, h)
		if err != nil {
			return nil, nil, err
		}
		if path == "" {
			set.skip("%s: not in %s (the enums and macros it holds are not generated)", h.names[0], includeDir)
			continue
		}
		if err := set.parse(filepath.Base(path), src); err != nil {
			return nil, nil, err
		}
		outs = append(outs, h.out)
	}
	return set, outs, set.resolve()
}

// hdrRead returns the first of h's names found in dir, or "" for a missing
// optional header.
func hdrRead(dir string, h hdrHeader) (string, string, error) {
	for _, name := range h.names {
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err == nil {
			return path, string(b), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", "", err
		}
	}
	if h.optional {
		return "", "", nil
	}
	return "", "", fmt.Errorf("read libvirt headers: %s not found in %s (pass the include/libvirt directory of a libvirt %s source tree)",
		h.names[0], dir, hdrLibvirtVersion)
}

// ---- the model --------------------------------------------------------

// hdrFile is one header's enums and macros, in header order.
type hdrFile struct {
	name  string
	items []hdrItem
}

// hdrItem is an enum or a macro; exactly one is set.
type hdrItem struct {
	enum  *hdrEnum
	macro *hdrMacro
}

type hdrEnum struct {
	cName, goName string
	where         string // file:line
	items         []*hdrEnumerator
	flags         bool
	goType        string // int32 or uint32
	skipped       bool
}

type hdrEnumerator struct {
	cName, goName string
	where         string
	expr          []hdrTok // nil: the previous value + 1
	value         *big.Int
	enum          *hdrEnum
}

// hdrMacroKind says what a macro turned into.
type hdrMacroKind int

const (
	hdrMacroUnresolved hdrMacroKind = iota
	hdrMacroString
	hdrMacroInt
	hdrMacroAlias // another emitted name: keeps its type
)

type hdrMacro struct {
	cName, goName string
	where         string
	body          []hdrTok
	kind          hdrMacroKind
	str           string
	value         *big.Int
	alias         string // the Go name it aliases
	evaluated     bool
}

// hdrSet is the headers read so far and the names they define.
type hdrSet struct {
	files   []*hdrFile
	enumers map[string]*hdrEnumerator // evaluated enumerators, by C name
	macros  map[string]*hdrMacro      // every VIR_ macro, by C name
	defined map[string]bool           // every macro name, for #ifdef
	skipped []string
}

func newHdrSet() *hdrSet {
	return &hdrSet{
		enumers: map[string]*hdrEnumerator{},
		macros:  map[string]*hdrMacro{},
		defined: map[string]bool{},
	}
}

func (s *hdrSet) skip(format string, args ...any) {
	s.skipped = append(s.skipped, fmt.Sprintf(format, args...))
}

func (s *hdrSet) report() *hdrReport {
	r := &hdrReport{skipped: s.skipped}
	for _, f := range s.files {
		for _, it := range f.items {
			switch {
			case it.enum != nil:
				r.enums++
				r.enumerators += len(it.enum.items)
			case it.macro.kind == hdrMacroString:
				r.strings++
			case it.macro.kind == hdrMacroInt:
				r.ints++
			case it.macro.kind == hdrMacroAlias:
				r.aliases++
			}
		}
	}
	return r
}

// ---- lexing -----------------------------------------------------------

type hdrTokKind int

const (
	hdrIdent hdrTokKind = iota
	hdrNumber
	hdrString
	hdrPunct
)

type hdrTok struct {
	kind  hdrTokKind
	text  string
	line  int
	space bool // white space comes before it
}

// hdrStripComments replaces each comment with spaces, keeping its newlines
// so that line numbers still count.
func hdrStripComments(file, src string) (string, error) {
	b := []byte(src)
	line := 1
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == '\n':
			line++
		case b[i] == '"' || b[i] == '\'':
			q := b[i]
			for i++; i < len(b) && b[i] != q && b[i] != '\n'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if i >= len(b) || b[i] != q {
				return "", fmt.Errorf("%s:%d: unterminated quote", file, line)
			}
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '*':
			end := bytes.Index(b[i+2:], []byte("*/"))
			if end < 0 {
				return "", fmt.Errorf("%s:%d: unterminated comment", file, line)
			}
			for j := i; j < i+2+end+2; j++ {
				if b[j] == '\n' {
					line++
				} else {
					b[j] = ' '
				}
			}
			i += 2 + end + 1
		case b[i] == '/' && i+1 < len(b) && b[i+1] == '/':
			for ; i < len(b) && b[i] != '\n'; i++ {
				b[i] = ' '
			}
			i--
		}
	}
	return string(b), nil
}

// hdrPunctuators are the multi-character operators, longest first.
var hdrPunctuators = []string{"<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "->", "##"}

func hdrLex(file, s string, line int) ([]hdrTok, error) {
	var toks []hdrTok
	space := false
	for i := 0; i < len(s); {
		c := s[i]
		start := i
		var kind hdrTokKind
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			space = true
			i++
			continue
		case c == '\n':
			line++
			space = true
			i++
			continue
		case c == '_' || isHdrLetter(c):
			for i++; i < len(s) && (s[i] == '_' || isHdrLetter(s[i]) || isHdrDigit(s[i])); i++ {
			}
			kind = hdrIdent
		case isHdrDigit(c):
			for i++; i < len(s) && (s[i] == '_' || s[i] == '.' || isHdrLetter(s[i]) || isHdrDigit(s[i])); i++ {
			}
			kind = hdrNumber
		case c == '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
			if i >= len(s) {
				return nil, fmt.Errorf("%s:%d: unterminated string", file, line)
			}
			i++
			kind = hdrString
		default:
			i++
			for _, p := range hdrPunctuators {
				if strings.HasPrefix(s[start:], p) {
					i = start + len(p)
					break
				}
			}
			kind = hdrPunct
		}
		toks = append(toks, hdrTok{kind: kind, text: s[start:i], line: line, space: space})
		space = false
	}
	return toks, nil
}

func isHdrLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isHdrDigit(c byte) bool  { return c >= '0' && c <= '9' }

// ---- preprocessing ----------------------------------------------------

// hdrCond is one open #if, #ifdef or #ifndef.
type hdrCond struct {
	outer   bool // the enclosing branches are read
	on      bool // the current branch is read
	done    bool // some branch of this conditional has been read
	sawElse bool
}

// hdrPre is the preprocessor's state in one header.
type hdrPre struct {
	s     *hdrSet
	f     *hdrFile
	conds []hdrCond
}

func (p *hdrPre) active() bool { return len(p.conds) == 0 || p.conds[len(p.conds)-1].on }

// parse reads one header: its macros directly, its enums from the tokens
// of the lines the conditionals leave in.
func (s *hdrSet) parse(file, src string) error {
	text, err := hdrStripComments(file, src)
	if err != nil {
		return err
	}
	p := &hdrPre{s: s, f: &hdrFile{name: file}}
	var code []hdrTok
	lines := strings.Split(text, "\n")
	for n := 0; n < len(lines); n++ {
		first := n + 1
		logical := lines[n]
		for strings.HasSuffix(strings.TrimRight(logical, " \t\r"), "\\") && n+1 < len(lines) {
			logical = strings.TrimSuffix(strings.TrimRight(logical, " \t\r"), "\\") + " " + lines[n+1]
			n++
		}
		trimmed := strings.TrimLeft(logical, " \t")
		if strings.HasPrefix(trimmed, "#") {
			toks, err := hdrLex(file, trimmed[1:], first)
			if err != nil {
				return err
			}
			if err := p.directive(fmt.Sprintf("%s:%d", file, first), toks); err != nil {
				return err
			}
			continue
		}
		if p.active() {
			toks, err := hdrLex(file, logical, first)
			if err != nil {
				return err
			}
			code = append(code, toks...)
		}
	}
	if len(p.conds) != 0 {
		return fmt.Errorf("%s: %d conditionals left open at the end", file, len(p.conds))
	}
	enums, err := hdrParseEnums(file, code)
	if err != nil {
		return err
	}
	p.f.items = hdrMerge(p.f.items, enums)
	s.files = append(s.files, p.f)
	return nil
}

// directive follows one preprocessor line. In a branch that is not read
// only the conditionals count, as in C.
func (p *hdrPre) directive(where string, toks []hdrTok) error {
	if len(toks) == 0 {
		return nil // the null directive
	}
	name, args := toks[0].text, toks[1:]
	switch name {
	case "if", "ifdef", "ifndef":
		outer := p.active()
		on := false
		if outer {
			var err error
			if on, err = p.test(where, name, args); err != nil {
				return err
			}
		}
		p.conds = append(p.conds, hdrCond{outer: outer, on: on, done: on})
		return nil
	case "elif", "else", "endif":
		if len(p.conds) == 0 {
			return fmt.Errorf("%s: #%s without #if", where, name)
		}
		c := &p.conds[len(p.conds)-1]
		switch {
		case name == "endif":
			p.conds = p.conds[:len(p.conds)-1]
		case c.sawElse:
			return fmt.Errorf("%s: #%s after #else", where, name)
		case name == "else":
			c.on, c.done, c.sawElse = c.outer && !c.done, true, true
		case !c.outer || c.done:
			c.on = false
		default:
			on, err := p.test(where, name, args)
			if err != nil {
				return err
			}
			c.on, c.done = on, on
		}
		return nil
	}
	if !p.active() {
		return nil
	}
	switch name {
	case "define":
		return p.s.define(p.f, where, args)
	case "undef":
		if len(args) > 0 {
			delete(p.s.defined, args[0].text)
			delete(p.s.macros, args[0].text)
		}
	case "include", "error", "warning", "pragma", "line":
		// Nothing to read: headers are read in a fixed order, and an
		// #error guards against a C program including a header alone.
	default:
		return fmt.Errorf("%s: unknown directive #%s", where, name)
	}
	return nil
}

// test evaluates the condition of an #if, #elif, #ifdef or #ifndef. As in
// C, `defined X` asks whether X is a macro and any other name that is not
// an integer macro counts as 0.
func (p *hdrPre) test(where, name string, args []hdrTok) (bool, error) {
	if name == "ifdef" || name == "ifndef" {
		if len(args) != 1 || args[0].kind != hdrIdent {
			return false, fmt.Errorf("%s: #%s wants one name", where, name)
		}
		return p.s.defined[args[0].text] == (name == "ifdef"), nil
	}
	var expr []hdrTok
	for i := 0; i < len(args); i++ {
		if args[i].text != "defined" {
			expr = append(expr, args[i])
			continue
		}
		j := i + 1
		paren := j < len(args) && args[j].text == "("
		if paren {
			j++
		}
		if j >= len(args) || args[j].kind != hdrIdent || paren && (j+1 >= len(args) || args[j+1].text != ")") {
			return false, fmt.Errorf("%s: defined wants a name", where)
		}
		expr = append(expr, hdrTok{kind: hdrNumber, text: strconv.Itoa(int(hdrBool(p.s.defined[args[j].text]))), line: args[j].line})
		i = j
		if paren {
			i++
		}
	}
	v, err := hdrEval(expr, func(n string) (hdrCVal, error) {
		if _, ok := p.s.macros[n]; ok {
			return p.s.macroVal(n, map[string]bool{})
		}
		return hdrCVal{new(big.Int), hdrInt}, nil
	})
	if err != nil {
		return false, fmt.Errorf("%s: #%s: %w", where, name, err)
	}
	return v.v.Sign() != 0, nil
}

// hdrMerge puts enums among the macros in header order.
func hdrMerge(macros []hdrItem, enums []*hdrEnum) []hdrItem {
	var out []hdrItem
	for _, e := range enums {
		line := hdrLine(e.where)
		for len(macros) > 0 && hdrLine(macros[0].macro.where) < line {
			out = append(out, macros[0])
			macros = macros[1:]
		}
		out = append(out, hdrItem{enum: e})
	}
	return append(out, macros...)
}

func hdrLine(where string) int {
	n, _ := strconv.Atoi(where[strings.LastIndexByte(where, ':')+1:])
	return n
}

// define records a #define. Only object-like VIR_ macros with a body are
// kept; include guards, markers, function-like macros and other names are
// reported in verbose mode.
func (s *hdrSet) define(f *hdrFile, where string, toks []hdrTok) error {
	if len(toks) == 0 || toks[0].kind != hdrIdent {
		return fmt.Errorf("%s: #define without a name", where)
	}
	name, body := toks[0].text, toks[1:]
	if s.defined[name] {
		return fmt.Errorf("%s: %s is defined twice", where, name)
	}
	s.defined[name] = true
	switch {
	case len(body) > 0 && body[0].text == "(" && !body[0].space:
		s.skip("%s: %s: a function-like macro", where, name)
	case len(body) == 0:
		s.skip("%s: %s: defined without a value (an include guard or a marker)", where, name)
	case !strings.HasPrefix(name, "VIR_"):
		s.skip("%s: %s: not a VIR_ name", where, name)
	default:
		m := &hdrMacro{cName: name, where: where, body: body}
		s.macros[name] = m
		f.items = append(f.items, hdrItem{macro: m})
	}
	return nil
}

// ---- enums ------------------------------------------------------------

// hdrParseEnums finds `typedef enum [tag] { ... } name;` and
// `enum tag { ... };` among a header's tokens; everything else is passed
// over.
func hdrParseEnums(file string, toks []hdrTok) ([]*hdrEnum, error) {
	var enums []*hdrEnum
	for i := 0; i < len(toks); i++ {
		typedef := toks[i].text == "typedef" && i+1 < len(toks) && toks[i+1].text == "enum"
		bare := toks[i].text == "enum" && (i == 0 || toks[i-1].text != "typedef") &&
			i+2 < len(toks) && toks[i+1].kind == hdrIdent && toks[i+2].text == "{"
		if !typedef && !bare {
			continue
		}
		start := toks[i].line
		if typedef {
			i++
		}
		e, next, err := hdrParseEnum(file, toks, i+1, typedef)
		if err != nil {
			return nil, err
		}
		if e != nil {
			e.where = fmt.Sprintf("%s:%d", file, start)
			enums = append(enums, e)
		}
		i = next
	}
	return enums, nil
}

// hdrParseEnum parses from just after `enum`; it returns nil for a typedef
// of an enum declared elsewhere (`typedef enum tag name;`).
func hdrParseEnum(file string, toks []hdrTok, i int, typedef bool) (*hdrEnum, int, error) {
	at := func(i int) string {
		if i < len(toks) {
			return toks[i].text
		}
		return ""
	}
	fail := func(i int, format string, args ...any) (*hdrEnum, int, error) {
		line := toks[len(toks)-1].line
		if i < len(toks) {
			line = toks[i].line
		}
		return nil, 0, fmt.Errorf("%s:%d: enum: %s", file, line, fmt.Sprintf(format, args...))
	}
	tag := ""
	if i < len(toks) && toks[i].kind == hdrIdent {
		tag = toks[i].text
		i++
	}
	if at(i) != "{" {
		return nil, i, nil
	}
	e := &hdrEnum{cName: tag}
	for i++; at(i) != "}"; {
		if i >= len(toks) || toks[i].kind != hdrIdent {
			return fail(i, "want an enumerator name, have %q", at(i))
		}
		it := &hdrEnumerator{cName: toks[i].text, where: fmt.Sprintf("%s:%d", file, toks[i].line), enum: e}
		i++
		if at(i) == "=" {
			depth := 0
			for i++; i < len(toks) && (depth > 0 || at(i) != "," && at(i) != "}"); i++ {
				switch at(i) {
				case "(":
					depth++
				case ")":
					depth--
				}
				it.expr = append(it.expr, toks[i])
			}
			if len(it.expr) == 0 {
				return fail(i, "%s has an empty value", it.cName)
			}
		}
		e.items = append(e.items, it)
		switch at(i) {
		case ",":
			i++
		case "}":
		default:
			return fail(i, "want , or } after %s, have %q", it.cName, at(i))
		}
	}
	i++
	if typedef {
		if i >= len(toks) || toks[i].kind != hdrIdent {
			return fail(i, "typedef enum %s without a type name", tag)
		}
		e.cName = toks[i].text
	}
	if e.cName == "" {
		return fail(i, "an anonymous enum has no Go type to become")
	}
	for i < len(toks) && at(i) != ";" {
		i++
	}
	return e, i, nil
}

// ---- resolving --------------------------------------------------------

// resolve evaluates every enum in header order, then every macro, and
// gives each a Go name.
func (s *hdrSet) resolve() error {
	for _, f := range s.files {
		for _, it := range f.items {
			if it.enum != nil {
				if err := s.evalEnum(it.enum); err != nil {
					return err
				}
			}
		}
	}
	for _, f := range s.files {
		for _, it := range f.items {
			if it.macro != nil {
				s.evalMacro(it.macro)
			}
		}
	}
	var kept []*hdrFile
	for _, f := range s.files {
		var items []hdrItem
		for _, it := range f.items {
			if it.enum != nil && !it.enum.skipped || it.macro != nil && it.macro.kind != hdrMacroUnresolved {
				items = append(items, it)
			}
		}
		kept = append(kept, &hdrFile{name: f.name, items: items})
	}
	s.files = kept
	return s.name()
}

// evalEnum gives each enumerator its value, or skips the whole enum when
// one cannot be evaluated from these headers.
func (s *hdrSet) evalEnum(e *hdrEnum) error {
	e.flags = strings.HasSuffix(e.cName, "Flags") || strings.HasSuffix(e.cName, "FlagsValues")
	next := big.NewInt(0)
	for _, it := range e.items {
		if it.expr != nil {
			v, err := hdrEval(it.expr, s.lookup(e, it.expr))
			if err != nil {
				e.skipped = true
				s.skip("%s: enum %s: %s: %v", e.where, e.cName, it.cName, err)
				return nil
			}
			next = v.v
		}
		it.value = new(big.Int).Set(next)
		next = new(big.Int).Add(next, big.NewInt(1))
	}
	unsigned, signed := hdrFitsAll(e, 0, 1<<32-1), hdrFitsAll(e, -1<<31, 1<<31-1)
	switch {
	case e.flags && unsigned, !signed && unsigned:
		e.goType = "uint32"
	case signed:
		e.goType = "int32" // an enum, or a flag set with a negative value
	default:
		return fmt.Errorf("%s: enum %s: its values fit neither int32 nor uint32", e.where, e.cName)
	}
	for _, it := range e.items {
		if prev, dup := s.enumers[it.cName]; dup {
			return fmt.Errorf("%s: %s is defined twice (first at %s)", it.where, it.cName, prev.where)
		}
		if m, dup := s.macros[it.cName]; dup {
			return fmt.Errorf("%s: %s is an enumerator and a macro (%s)", it.where, it.cName, m.where)
		}
		s.enumers[it.cName] = it
	}
	return nil
}

func hdrFitsAll(e *hdrEnum, lo, hi int64) bool {
	for _, it := range e.items {
		if it.value.Cmp(big.NewInt(lo)) < 0 || it.value.Cmp(big.NewInt(hi)) > 0 {
			return false
		}
	}
	return true
}

// lookup resolves an identifier in an enumerator's value: an earlier
// enumerator of e, of an earlier enum, or a macro. It marks e a flag set
// when the value is written as a shift or in hex, or refers to a flag.
func (s *hdrSet) lookup(e *hdrEnum, expr []hdrTok) func(string) (hdrCVal, error) {
	for _, t := range expr {
		if t.text == "<<" || t.kind == hdrNumber && strings.HasPrefix(strings.ToLower(t.text), "0x") {
			e.flags = true
		}
	}
	return func(name string) (hdrCVal, error) {
		for _, it := range e.items {
			if it.value == nil {
				break // not evaluated yet
			}
			if it.cName == name {
				return hdrConstVal(it.value), nil
			}
		}
		if it, ok := s.enumers[name]; ok {
			if it.enum.flags {
				e.flags = true
			}
			return hdrConstVal(it.value), nil
		}
		return s.macroVal(name, map[string]bool{})
	}
}

// macroVal evaluates the integer macro name, as a use of it would.
func (s *hdrSet) macroVal(name string, busy map[string]bool) (hdrCVal, error) {
	m, ok := s.macros[name]
	if !ok {
		return hdrCVal{}, fmt.Errorf("%s is not defined in these headers", name)
	}
	if busy[name] {
		return hdrCVal{}, fmt.Errorf("%s refers to itself", name)
	}
	busy[name] = true
	defer delete(busy, name)
	return hdrEval(m.body, func(n string) (hdrCVal, error) {
		if it, ok := s.enumers[n]; ok {
			return hdrConstVal(it.value), nil
		}
		return s.macroVal(n, busy)
	})
}

// evalMacro decides what m is: a string, an alias of another name, or an
// integer expression; anything else is skipped.
func (s *hdrSet) evalMacro(m *hdrMacro) {
	if m.evaluated {
		return
	}
	m.evaluated = true
	if str, ok, err := hdrStringBody(m.body); err != nil || ok {
		if err != nil {
			s.skip("%s: %s: %v", m.where, m.cName, err)
			return
		}
		m.kind, m.str = hdrMacroString, str
		return
	}
	if len(m.body) == 1 && m.body[0].kind == hdrIdent {
		target := m.body[0].text
		if _, ok := s.enumers[target]; ok {
			m.kind = hdrMacroAlias // the Go name is filled in once names are given
			return
		}
		if t, ok := s.macros[target]; ok {
			s.evalMacro(t)
			if t.kind != hdrMacroUnresolved {
				m.kind = hdrMacroAlias
				return
			}
		}
	}
	v, err := s.macroVal(m.cName, map[string]bool{})
	if err != nil {
		s.skip("%s: %s: %s is not a string or an integer here: %v", m.where, m.cName, hdrJoin(m.body), err)
		return
	}
	m.kind, m.value = hdrMacroInt, v.v
}

// hdrStringBody reports whether body is string literals only and returns
// their concatenation.
func hdrStringBody(body []hdrTok) (string, bool, error) {
	var sb strings.Builder
	for _, t := range body {
		if t.kind != hdrString {
			return "", false, nil
		}
		s, err := hdrUnquote(t.text)
		if err != nil {
			return "", false, err
		}
		sb.WriteString(s)
	}
	return sb.String(), true, nil
}

// hdrUnquote decodes a C string literal.
func hdrUnquote(lit string) (string, error) {
	in := lit[1 : len(lit)-1]
	var out []byte
	for i := 0; i < len(in); i++ {
		if in[i] != '\\' {
			out = append(out, in[i])
			continue
		}
		i++
		if i >= len(in) {
			return "", fmt.Errorf("bad escape in %s", lit)
		}
		switch c := in[i]; c {
		case 'n', 't', 'r', 'a', 'b', 'f', 'v':
			out = append(out, map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', 'a': 7, 'b': 8, 'f': 12, 'v': 11}[c])
		case '\\', '"', '\'', '?':
			out = append(out, c)
		case 'x':
			j := i + 1
			for j < len(in) && strings.IndexByte("0123456789abcdefABCDEF", in[j]) >= 0 {
				j++
			}
			n, err := strconv.ParseUint(in[i+1:j], 16, 8)
			if err != nil {
				return "", fmt.Errorf("bad escape in %s", lit)
			}
			out, i = append(out, byte(n)), j-1
		default:
			j := i
			for j < len(in) && j < i+3 && in[j] >= '0' && in[j] <= '7' {
				j++
			}
			n, err := strconv.ParseUint(in[i:j], 8, 8)
			if err != nil {
				return "", fmt.Errorf("bad escape in %s", lit)
			}
			out, i = append(out, byte(n)), j-1
		}
	}
	return string(out), nil
}

// ---- naming -----------------------------------------------------------

// hdrConstName is the Go name of a C constant (see the naming rule above).
func hdrConstName(c string) (string, error) {
	rest, ok := strings.CutPrefix(c, "VIR_")
	if !ok {
		return "", fmt.Errorf("%s does not start with VIR_", c)
	}
	var sb strings.Builder
	for _, w := range strings.Split(rest, "_") {
		switch {
		case w == "":
		case hdrInitialisms[w]:
			sb.WriteString(w)
		default:
			sb.WriteString(w[:1])
			sb.WriteString(strings.ToLower(w[1:]))
		}
	}
	g := sb.String()
	if !gotoken.IsIdentifier(g) || !gotoken.IsExported(g) {
		return "", fmt.Errorf("%s gives %q, not an exported Go name", c, g)
	}
	return g, nil
}

// hdrTypeName is the Go name of a C enum type: without its "vir" prefix.
func hdrTypeName(c string) (string, error) {
	rest, ok := strings.CutPrefix(c, "vir")
	if !ok || !gotoken.IsIdentifier(rest) || !gotoken.IsExported(rest) {
		return "", fmt.Errorf("enum type %s is not vir followed by a capitalised name", c)
	}
	return rest, nil
}

// name gives every kept type and constant its Go name, failing when two C
// names would share one.
func (s *hdrSet) name() error {
	owner := map[string]string{}
	claim := func(goName, cName, where string) error {
		if prev, ok := owner[goName]; ok {
			return fmt.Errorf("name collision in Go: %s and %s (%s) both become %s; change the naming rule in cmd/protogen/headers.go",
				prev, cName, where, goName)
		}
		owner[goName] = fmt.Sprintf("%s (%s)", cName, where)
		return nil
	}
	types := map[string]bool{}
	for _, f := range s.files {
		for _, it := range f.items {
			if e := it.enum; e != nil {
				var err error
				if e.goName, err = hdrTypeName(e.cName); err != nil {
					return fmt.Errorf("%s: %w", e.where, err)
				}
				types[e.goName] = true
			}
		}
	}
	var err error
	for _, f := range s.files {
		for _, it := range f.items {
			if e := it.enum; e != nil {
				if err := claim(e.goName, e.cName, e.where); err != nil {
					return err
				}
				for _, en := range e.items {
					if en.goName, err = hdrConstName(en.cName); err != nil {
						return fmt.Errorf("%s: %w", en.where, err)
					}
					if err := claim(en.goName, en.cName, en.where); err != nil {
						return err
					}
				}
				continue
			}
			m := it.macro
			if m.goName, err = hdrConstName(m.cName); err != nil {
				return fmt.Errorf("%s: %w", m.where, err)
			}
			if m.kind == hdrMacroString && types[m.goName] {
				m.goName += "Param" // the typed parameter holding a value of that type
			}
			if err := claim(m.goName, m.cName, m.where); err != nil {
				return err
			}
		}
	}
	for _, f := range s.files {
		for _, it := range f.items {
			if m := it.macro; m != nil && m.kind == hdrMacroAlias {
				m.alias, _ = hdrConstName(m.body[0].text)
			}
		}
	}
	return nil
}

// ---- rendering --------------------------------------------------------

// hdrRender writes one header's Go file, gofmt-formatted.
func hdrRender(f *hdrFile) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by cmd/protogen from libvirt %s's public headers. DO NOT EDIT.\n", hdrLibvirtVersion)
	fmt.Fprintf(&b, "// Source: %s\n\npackage vir\n", f.name)
	for _, it := range f.items {
		if it.enum != nil && !it.enum.flags {
			b.WriteString("\nimport \"strconv\"\n")
			break
		}
	}
	for i := 0; i < len(f.items); i++ {
		if e := f.items[i].enum; e != nil {
			hdrRenderEnum(&b, e)
			continue
		}
		b.WriteString("\nconst (\n")
		for ; i < len(f.items) && f.items[i].macro != nil; i++ {
			hdrRenderMacro(&b, f.items[i].macro)
		}
		i--
		b.WriteString(")\n")
	}
	out, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("generated code for %s does not format (a generator bug): %w", f.name, err)
	}
	return out, nil
}

func hdrRenderEnum(b *bytes.Buffer, e *hdrEnum) {
	kind := "enum"
	if e.flags {
		kind = "flag set"
	}
	fmt.Fprintf(b, "\n// %s is libvirt's %s %s.\ntype %s %s\n", e.goName, kind, e.cName, e.goName, e.goType)
	if len(e.items) == 0 {
		return
	}
	b.WriteString("\nconst (\n")
	for _, it := range e.items {
		fmt.Fprintf(b, "\t// %s is %s.\n\t%s %s = %s\n", it.goName, it.cName, it.goName, e.goName, hdrLiteral(it.value, e.flags))
	}
	b.WriteString(")\n")
	if e.flags {
		return
	}
	fmt.Fprintf(b, "\n// String returns the C name of v, such as %q, or %s(n) for a value libvirt %s does not name.\n",
		e.items[0].cName, e.goName, hdrLibvirtVersion)
	fmt.Fprintf(b, "func (v %s) String() string {\n\tswitch v {\n", e.goName)
	seen := map[string]bool{}
	for _, it := range e.items {
		if seen[it.value.String()] {
			continue // an alias of an earlier value: the first name wins
		}
		seen[it.value.String()] = true
		fmt.Fprintf(b, "\tcase %s:\n\t\treturn %q\n", it.goName, it.cName)
	}
	fmt.Fprintf(b, "\t}\n\treturn \"%s(\" + strconv.FormatInt(int64(v), 10) + \")\"\n}\n", e.goName)
}

func hdrRenderMacro(b *bytes.Buffer, m *hdrMacro) {
	fmt.Fprintf(b, "\t// %s is %s.\n\t%s = ", m.goName, m.cName, m.goName)
	switch m.kind {
	case hdrMacroString:
		b.WriteString(strconv.Quote(m.str))
	case hdrMacroAlias:
		b.WriteString(m.alias)
	default:
		b.WriteString(m.value.String())
	}
	b.WriteString("\n")
}

// hdrLiteral writes a flag as 1 << n or in hex, any other value in decimal.
func hdrLiteral(v *big.Int, flags bool) string {
	if !flags || v.Sign() <= 0 {
		return v.String()
	}
	if n := v.BitLen() - 1; new(big.Int).Lsh(big.NewInt(1), uint(n)).Cmp(v) == 0 {
		return fmt.Sprintf("1 << %d", n)
	}
	return "0x" + v.Text(16)
}

// ---- evaluating C integer expressions ---------------------------------

// hdrCType is a C integer type under LP64: int, unsigned int, long,
// unsigned long (long long is long's size).
type hdrCType struct {
	bits     uint
	unsigned bool
}

var (
	hdrInt   = hdrCType{32, false}
	hdrUint  = hdrCType{32, true}
	hdrLong  = hdrCType{64, false}
	hdrUlong = hdrCType{64, true}
)

func (t hdrCType) String() string {
	name := map[uint]string{32: "int", 64: "long"}[t.bits]
	if t.unsigned {
		return "unsigned " + name
	}
	return name
}

func (t hdrCType) fits(v *big.Int) bool {
	lo, hi := new(big.Int), new(big.Int).Lsh(big.NewInt(1), t.bits)
	if !t.unsigned {
		hi.Rsh(hi, 1)
		lo.Neg(hi)
	}
	return v.Cmp(lo) >= 0 && v.Cmp(hi) < 0
}

// hdrCVal is a value with its C type.
type hdrCVal struct {
	v *big.Int
	t hdrCType
}

// hdrConstVal types an enumerator's value as C does: int when it fits,
// else the first of unsigned int, long, unsigned long that holds it.
func hdrConstVal(v *big.Int) hdrCVal {
	for _, t := range []hdrCType{hdrInt, hdrUint, hdrLong} {
		if t.fits(v) {
			return hdrCVal{v, t}
		}
	}
	return hdrCVal{v, hdrUlong}
}

// make converts a mathematical result to type t: modulo 2^bits for an
// unsigned type, an error for a signed overflow.
func (t hdrCType) make(v *big.Int) (hdrCVal, error) {
	if t.unsigned {
		mod := new(big.Int).Lsh(big.NewInt(1), t.bits)
		return hdrCVal{new(big.Int).Mod(v, mod), t}, nil
	}
	if !t.fits(v) {
		return hdrCVal{}, fmt.Errorf("%s overflows %s", v, t)
	}
	return hdrCVal{v, t}, nil
}

// hdrCommon is C's usual arithmetic conversion of two operand types.
func hdrCommon(a, b hdrCType) hdrCType {
	switch {
	case a == b:
		return a
	case a.unsigned == b.unsigned:
		return hdrCType{max(a.bits, b.bits), a.unsigned}
	}
	u, s := a, b
	if b.unsigned {
		u, s = b, a
	}
	if u.bits >= s.bits {
		return u
	}
	return s // a wider signed type holds every value of the unsigned one
}

// hdrNumberVal reads an integer literal and gives it the type C would.
func hdrNumberVal(lit string) (hdrCVal, error) {
	low := strings.ToLower(lit)
	digits := strings.TrimRight(low, "ul")
	suffix := low[len(digits):]
	base, text := 10, digits
	switch {
	case strings.HasPrefix(digits, "0x"):
		base, text = 16, digits[2:]
	case len(digits) > 1 && digits[0] == '0':
		base, text = 8, digits[1:]
	}
	v, ok := new(big.Int).SetString(text, base)
	if !ok || text == "" || strings.ContainsAny(text, "_+-") {
		return hdrCVal{}, fmt.Errorf("%s is not an integer literal", lit)
	}
	var types []hdrCType
	switch suffix {
	case "":
		types = []hdrCType{hdrInt, hdrLong}
		if base != 10 {
			types = []hdrCType{hdrInt, hdrUint, hdrLong, hdrUlong}
		}
	case "u":
		types = []hdrCType{hdrUint, hdrUlong}
	case "l", "ll":
		types = []hdrCType{hdrLong}
		if base != 10 {
			types = []hdrCType{hdrLong, hdrUlong}
		}
	case "ul", "lu", "ull", "llu":
		types = []hdrCType{hdrUlong}
	default:
		return hdrCVal{}, fmt.Errorf("%s has an unknown suffix", lit)
	}
	for _, t := range types {
		if t.fits(v) {
			return hdrCVal{v, t}, nil
		}
	}
	return hdrCVal{}, fmt.Errorf("%s is too large for any C integer type", lit)
}

// hdrEval evaluates a C integer constant expression; lookup resolves
// identifiers.
func hdrEval(toks []hdrTok, lookup func(string) (hdrCVal, error)) (hdrCVal, error) {
	p := &hdrExpr{toks: toks, lookup: lookup}
	v, err := p.binary(0)
	if err != nil {
		return hdrCVal{}, err
	}
	if p.i < len(toks) {
		return hdrCVal{}, fmt.Errorf("unexpected %q in %s", toks[p.i].text, hdrJoin(toks))
	}
	return v, nil
}

func hdrJoin(toks []hdrTok) string {
	var parts []string
	for _, t := range toks {
		parts = append(parts, t.text)
	}
	return strings.Join(parts, " ")
}

type hdrExpr struct {
	toks   []hdrTok
	i      int
	lookup func(string) (hdrCVal, error)
}

// hdrPrec is the binding strength of C's binary operators.
var hdrPrec = map[string]int{
	"||": 1, "&&": 2, "|": 3, "^": 4, "&": 5,
	"==": 6, "!=": 6, "<": 7, ">": 7, "<=": 7, ">=": 7,
	"<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10,
}

func (p *hdrExpr) peek() string {
	if p.i < len(p.toks) {
		return p.toks[p.i].text
	}
	return ""
}

// binary parses operators binding tighter than min, left to right.
func (p *hdrExpr) binary(min int) (hdrCVal, error) {
	x, err := p.unary()
	if err != nil {
		return x, err
	}
	for {
		op := p.peek()
		prec, ok := hdrPrec[op]
		if !ok || prec <= min || p.toks[p.i].kind != hdrPunct {
			return x, nil
		}
		p.i++
		y, err := p.binary(prec)
		if err != nil {
			return y, err
		}
		if x, err = hdrApply(op, x, y); err != nil {
			return x, err
		}
	}
}

func (p *hdrExpr) unary() (hdrCVal, error) {
	if p.i >= len(p.toks) {
		return hdrCVal{}, fmt.Errorf("%s ends early", hdrJoin(p.toks))
	}
	t := p.toks[p.i]
	p.i++
	switch {
	case t.kind == hdrNumber:
		return hdrNumberVal(t.text)
	case t.kind == hdrIdent:
		return p.lookup(t.text)
	case t.text == "(":
		v, err := p.binary(0)
		if err != nil {
			return v, err
		}
		if p.peek() != ")" {
			return hdrCVal{}, fmt.Errorf("missing ) in %s", hdrJoin(p.toks))
		}
		p.i++
		return v, nil
	case t.text == "-" || t.text == "+" || t.text == "~" || t.text == "!":
		x, err := p.unary()
		if err != nil {
			return x, err
		}
		v := new(big.Int)
		switch t.text {
		case "-":
			v.Neg(x.v)
		case "+":
			v.Set(x.v)
		case "~":
			v.Not(x.v) // -x-1; make wraps it for unsigned types
		case "!":
			return hdrCVal{big.NewInt(hdrBool(x.v.Sign() == 0)), hdrInt}, nil
		}
		return x.t.make(v)
	}
	return hdrCVal{}, fmt.Errorf("%q cannot start a value in %s", t.text, hdrJoin(p.toks))
}

func hdrBool(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// hdrApply computes x op y in C's types.
func hdrApply(op string, x, y hdrCVal) (hdrCVal, error) {
	if op == "<<" || op == ">>" {
		return hdrShift(op, x, y)
	}
	if op == "&&" || op == "||" {
		a, b := x.v.Sign() != 0, y.v.Sign() != 0
		return hdrCVal{big.NewInt(hdrBool(op == "&&" && a && b || op == "||" && (a || b))), hdrInt}, nil
	}
	t := hdrCommon(x.t, y.t)
	a, err := t.make(x.v)
	if err != nil {
		return a, err
	}
	b, err := t.make(y.v)
	if err != nil {
		return b, err
	}
	v := new(big.Int)
	switch op {
	case "+":
		v.Add(a.v, b.v)
	case "-":
		v.Sub(a.v, b.v)
	case "*":
		v.Mul(a.v, b.v)
	case "/", "%":
		if b.v.Sign() == 0 {
			return hdrCVal{}, fmt.Errorf("division by zero")
		}
		if op == "/" {
			v.Quo(a.v, b.v) // C truncates toward zero, as Quo does
		} else {
			v.Rem(a.v, b.v)
		}
	case "&":
		v.And(a.v, b.v)
	case "|":
		v.Or(a.v, b.v)
	case "^":
		v.Xor(a.v, b.v)
	default: // comparisons
		c := a.v.Cmp(b.v)
		r := map[string]bool{"==": c == 0, "!=": c != 0, "<": c < 0, ">": c > 0, "<=": c <= 0, ">=": c >= 0}[op]
		return hdrCVal{big.NewInt(hdrBool(r)), hdrInt}, nil
	}
	return t.make(v)
}

// hdrShift shifts in the left operand's type; C leaves a negative or
// too-large count, and a left shift of a negative value, undefined.
func hdrShift(op string, x, y hdrCVal) (hdrCVal, error) {
	if y.v.Sign() < 0 || y.v.Cmp(big.NewInt(int64(x.t.bits))) >= 0 {
		return hdrCVal{}, fmt.Errorf("shift by %s is undefined for %s", y.v, x.t)
	}
	n := uint(y.v.Uint64())
	if op == ">>" {
		return hdrCVal{new(big.Int).Rsh(x.v, n), x.t}, nil
	}
	if x.v.Sign() < 0 {
		return hdrCVal{}, fmt.Errorf("left shift of the negative %s is undefined", x.v)
	}
	v, err := x.t.make(new(big.Int).Lsh(x.v, n))
	if err != nil {
		return v, fmt.Errorf("%s << %d: %w (write %sU for an unsigned value)", x.v, n, err, x.v)
	}
	return v, nil
}
