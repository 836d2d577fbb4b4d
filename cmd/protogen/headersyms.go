package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// headerSyms is what the protocol definitions need from libvirt's public
// headers: the integer values of the macros and enumerators they name
// (VIR_UUID_BUFLEN, VIR_TYPED_PARAM_INT, VIR_DOMAIN_XML_SECURE in an
// @acl), as the vocabulary reader (headers.go) evaluates them, and the
// names of the public API functions, which give each procedure its API
// name.
type headerSyms struct {
	values map[string]int64
	funcs  map[string]string // lower-case name without "vir" → virName
}

var reFunc = regexp.MustCompile(`\b(vir[A-Z]\w*)\s*\(`)

func readHeaders(dir string) (*headerSyms, error) {
	set, _, err := hdrLoad(dir)
	if err != nil {
		return nil, err
	}
	h := &headerSyms{values: map[string]int64{}, funcs: map[string]string{}}
	for name, e := range set.enumers {
		if e.value != nil && e.value.IsInt64() {
			h.values[name] = e.value.Int64()
		}
	}
	for name, m := range set.macros {
		if m.kind == hdrMacroInt && m.value != nil && m.value.IsInt64() {
			h.values[name] = m.value.Int64()
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.h"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no libvirt headers in %s", dir)
	}
	sort.Strings(files)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		text, err := hdrStripComments(f, string(src))
		if err != nil {
			return nil, err
		}
		for _, m := range reFunc.FindAllStringSubmatch(text, -1) {
			h.funcs[strings.ToLower(strings.TrimPrefix(m[1], "vir"))] = m[1]
		}
	}
	return h, nil
}
