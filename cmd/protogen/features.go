package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var (
	reDrvFeature = regexp.MustCompile(`(?s)typedef\s+enum\s*\{(.*?)\}\s*virDrvFeature\s*;`)
	reFeature    = regexp.MustCompile(`^\s*(VIR_DRV_FEATURE_\w+)\s*=\s*(\d+)\s*$`)
)

// writeFeatures emits protocol/features.gen.go: the features a client asks
// about with CONNECT_SUPPORTS_FEATURE (virDrvFeature). They are part of
// the wire protocol but live in libvirt's internal header
// src/libvirt_internal.h, not the public ones.
func writeFeatures(src, out string) error {
	b, err := os.ReadFile(filepath.Join(src, "src", "libvirt_internal.h"))
	if err != nil {
		return err
	}
	text, err := hdrStripComments("src/libvirt_internal.h", string(b))
	if err != nil {
		return err
	}
	m := reDrvFeature.FindStringSubmatch(text)
	if m == nil {
		return fmt.Errorf("src/libvirt_internal.h: no virDrvFeature enum")
	}
	w := &codeWriter{}
	w.line("// DrvFeature is a connection feature (virDrvFeature of src/libvirt_internal.h).")
	w.line("type DrvFeature int32")
	w.line("")
	w.line("const (")
	for _, item := range strings.Split(m[1], ",") {
		im := reFeature.FindStringSubmatch(strings.TrimSpace(item))
		if im == nil {
			continue
		}
		v, _ := parseNumber(im[2])
		w.line("\t%s DrvFeature = %d // %s", camel(strings.TrimPrefix(im[1], "VIR_")), v, im[1])
	}
	w.line(")")
	return writeGo(filepath.Join(out, "protocol", "features.gen.go"), "protocol", nil, w.b.String())
}
