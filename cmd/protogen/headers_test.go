package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The header reader is tested on small C snippets written here; the run on
// libvirt's own headers needs a libvirt 9.0 source tree, which CI lacks.

var vocabUpdate = flag.Bool("vocab.update", false, "rewrite ../../vir/*.gen.go from the libvirt headers in $GOVIRT_LIBVIRT_INCLUDE")

// hdrTestParse reads the snippets, given as name, source pairs, in order.
func hdrTestParse(t *testing.T, files ...string) (*hdrSet, error) {
	t.Helper()
	s := newHdrSet()
	for i := 0; i < len(files); i += 2 {
		if err := s.parse(files[i], files[i+1]); err != nil {
			return nil, err
		}
	}
	return s, s.resolve()
}

func hdrMustParse(t *testing.T, files ...string) *hdrSet {
	t.Helper()
	s, err := hdrTestParse(t, files...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *hdrSet) enum(cName string) *hdrEnum {
	for _, f := range s.files {
		for _, it := range f.items {
			if it.enum != nil && it.enum.cName == cName {
				return it.enum
			}
		}
	}
	return nil
}

func (s *hdrSet) macro(cName string) *hdrMacro {
	for _, f := range s.files {
		for _, it := range f.items {
			if it.macro != nil && it.macro.cName == cName {
				return it.macro
			}
		}
	}
	return nil
}

const hdrTestEnums = `
/* virTestState: a comment with an enum { inside } it */
typedef enum {
    VIR_TEST_A,                 /* implicit: 0 */
    VIR_TEST_B,                 // implicit: 1
    VIR_TEST_C = 10,
    VIR_TEST_D,                 /* previous + 1 */
    VIR_TEST_E = -3,
    VIR_TEST_F,
    VIR_TEST_G = VIR_TEST_C + 2 * 3,
    VIR_TEST_H = (VIR_TEST_A | VIR_TEST_D) - 7 / 2,
    VIR_TEST_I = -(-7 / 2),
    VIR_TEST_J = -7 % 3,
    VIR_TEST_K = VIR_TEST_B,    /* an alias: String keeps the first name */
    VIR_TEST_L =
        VIR_TEST_C
        + 1000,
# ifdef VIR_ENUM_SENTINELS
    VIR_TEST_LAST
# endif
} virTestState;

typedef enum {
    VIR_TEST_FLAG_NONE = 0,
    VIR_TEST_FLAG_A = 1 << 0,
    VIR_TEST_FLAG_B = (1 << 1),
    VIR_TEST_FLAG_AB = (VIR_TEST_FLAG_A | VIR_TEST_FLAG_B),
    VIR_TEST_FLAG_TOP = 1U << 31,
} virTestFlags;

typedef enum { VIR_TEST_MASK_LOW = 0x0f, VIR_TEST_MASK_HIGH = 0xf0 } virTestMask;
typedef enum { VIR_TEST_SHIFTY_A = 1 << 2 } virTestShifty;
typedef enum { VIR_TEST_REF_A = VIR_TEST_FLAG_B } virTestRef;
typedef enum { VIR_TEST_BIG_A = 0, VIR_TEST_BIG_B = 3000000000 } virTestBig;
typedef enum { VIR_TEST_NEG_FLAG = -1, VIR_TEST_NEG_FLAG_A = 1 << 0 } virTestNegFlags;

enum virTagged {
    VIR_TAGGED_A = 2,
    VIR_TAGGED_B
};

typedef enum _virTagTypedef { VIR_TAG_TYPEDEF_A } virTagTypedef;

int virTestUse(enum virTagged t);
`

func TestHdrEnumValues(t *testing.T) {
	s := hdrMustParse(t, "test.h", hdrTestEnums)
	want := map[string]int64{
		"VIR_TEST_A": 0, "VIR_TEST_B": 1, "VIR_TEST_C": 10, "VIR_TEST_D": 11,
		"VIR_TEST_E": -3, "VIR_TEST_F": -2, "VIR_TEST_G": 16, "VIR_TEST_H": 8,
		"VIR_TEST_I": 3, "VIR_TEST_J": -1, "VIR_TEST_K": 1, "VIR_TEST_L": 1010,
		"VIR_TEST_FLAG_NONE": 0, "VIR_TEST_FLAG_A": 1, "VIR_TEST_FLAG_B": 2,
		"VIR_TEST_FLAG_AB": 3, "VIR_TEST_FLAG_TOP": 1 << 31,
		"VIR_TEST_MASK_LOW": 15, "VIR_TEST_MASK_HIGH": 240,
		"VIR_TEST_REF_A": 2, "VIR_TEST_BIG_B": 3000000000,
		"VIR_TAGGED_A": 2, "VIR_TAGGED_B": 3, "VIR_TAG_TYPEDEF_A": 0,
	}
	for name, v := range want {
		it, ok := s.enumers[name]
		if !ok {
			t.Errorf("%s: missing", name)
			continue
		}
		if !it.value.IsInt64() || it.value.Int64() != v {
			t.Errorf("%s = %s, want %d", name, it.value, v)
		}
	}
	if _, ok := s.enumers["VIR_TEST_LAST"]; ok {
		t.Error("the VIR_ENUM_SENTINELS sentinel VIR_TEST_LAST was kept")
	}
	if n := len(s.enum("virTestState").items); n != 12 {
		t.Errorf("virTestState has %d enumerators, want 12", n)
	}
}

func TestHdrEnumTypes(t *testing.T) {
	s := hdrMustParse(t, "test.h", hdrTestEnums)
	for _, c := range []struct {
		cName, goName, goType string
		flags                 bool
	}{
		{"virTestState", "TestState", "int32", false},
		{"virTestFlags", "TestFlags", "uint32", true},      // by name; 1U << 31 fits
		{"virTestMask", "TestMask", "uint32", true},        // by hex
		{"virTestShifty", "TestShifty", "uint32", true},    // by shift
		{"virTestRef", "TestRef", "uint32", true},          // by referring to a flag
		{"virTestBig", "TestBig", "uint32", false},         // too big for int32
		{"virTestNegFlags", "TestNegFlags", "int32", true}, // a flag set holding -1
		{"virTagged", "Tagged", "int32", false},            // enum tag { … };
		{"virTagTypedef", "TagTypedef", "int32", false},    // typedef enum _tag { … } name;
	} {
		e := s.enum(c.cName)
		if e == nil {
			t.Errorf("%s: missing", c.cName)
			continue
		}
		if e.goName != c.goName || e.goType != c.goType || e.flags != c.flags {
			t.Errorf("%s: %s %s flags=%v, want %s %s flags=%v", c.cName, e.goName, e.goType, e.flags, c.goName, c.goType, c.flags)
		}
	}
}

const hdrTestMacros = `
#ifndef TEST_MACROS_H
# define TEST_MACROS_H

# define VIR_TEST_STR "cpu_shares"
# define VIR_TEST_STR_JOINED "a\"b" "\x41\101\n"
# define VIR_TEST_NUM (36+1)
# define VIR_TEST_LL 9007199254740991LL /* = INT64_MAX >> 10 */
# define VIR_TEST_FN(x) ((x) + 1)
# define VIR_TEST_SPACED (1)
# define VIR_TEST_MULTI (1 + \
    2)
# define VIR_TEST_ALIAS VIR_MACRO_C
# define VIR_TEST_STR_ALIAS VIR_TEST_STR
# define VIR_TEST_EXPR (VIR_MACRO_C | 1)
# define VIR_TEST_LATER VIR_TEST_DEFINED_LATER
# define VIR_TEST_UNDEF VIR_NOWHERE
# define VIR_TEST_TYPE_ALIAS _virTypedParameter
# define _virOther _virTypedParameter
# define VIR_TEST_DEFINED_LATER 5

typedef enum { VIR_MACRO_C = 10 } virMacroValues;

# ifdef VIR_NOT_DEFINED
#  define VIR_TEST_HIDDEN 1
# else
#  define VIR_TEST_SHOWN 2
# endif
#endif
`

func TestHdrMacros(t *testing.T) {
	s := hdrMustParse(t, "macros.h", hdrTestMacros)
	for _, c := range []struct {
		cName  string
		kind   hdrMacroKind
		goName string
		value  string // str, integer or aliased Go name
	}{
		{"VIR_TEST_STR", hdrMacroString, "TestStr", "cpu_shares"},
		{"VIR_TEST_STR_JOINED", hdrMacroString, "TestStrJoined", "a\"bAA\n"},
		{"VIR_TEST_NUM", hdrMacroInt, "TestNum", "37"},
		{"VIR_TEST_LL", hdrMacroInt, "TestLl", "9007199254740991"},
		{"VIR_TEST_SPACED", hdrMacroInt, "TestSpaced", "1"},
		{"VIR_TEST_MULTI", hdrMacroInt, "TestMulti", "3"},
		{"VIR_TEST_ALIAS", hdrMacroAlias, "TestAlias", "MacroC"},
		{"VIR_TEST_STR_ALIAS", hdrMacroAlias, "TestStrAlias", "TestStr"},
		{"VIR_TEST_EXPR", hdrMacroInt, "TestExpr", "11"},
		{"VIR_TEST_LATER", hdrMacroAlias, "TestLater", "TestDefinedLater"},
		{"VIR_TEST_SHOWN", hdrMacroInt, "TestShown", "2"},
	} {
		m := s.macro(c.cName)
		if m == nil {
			t.Errorf("%s: missing", c.cName)
			continue
		}
		got := map[hdrMacroKind]string{hdrMacroString: m.str, hdrMacroAlias: m.alias}[m.kind]
		if m.kind == hdrMacroInt {
			got = m.value.String()
		}
		if m.kind != c.kind || m.goName != c.goName || got != c.value {
			t.Errorf("%s: kind %d %s = %q, want kind %d %s = %q", c.cName, m.kind, m.goName, got, c.kind, c.goName, c.value)
		}
	}
	for _, gone := range []string{"VIR_TEST_FN", "VIR_TEST_UNDEF", "VIR_TEST_TYPE_ALIAS", "_virOther", "TEST_MACROS_H", "VIR_TEST_HIDDEN"} {
		if s.macro(gone) != nil {
			t.Errorf("%s was kept", gone)
		}
	}
	skipped := strings.Join(s.skipped, "\n")
	for _, why := range []string{"VIR_TEST_FN: a function-like macro", "VIR_TEST_UNDEF: VIR_NOWHERE is not", "TEST_MACROS_H: defined without a value", "_virOther: not a VIR_ name"} {
		if !strings.Contains(skipped, why) {
			t.Errorf("skipped list lacks %q:\n%s", why, skipped)
		}
	}
}

// TestHdrConditionals follows the constructs of libvirt-common.h.in.
func TestHdrConditionals(t *testing.T) {
	s := hdrMustParse(t, "common.h.in", `
#if !defined __VIR_LIBVIRT_H_INCLUDES__ && !defined(__VIR_ADMIN_H_INCLUDES__)
# error "Don't include this file directly"
#endif
# ifndef VIR_DEPRECATED
#  if __GNUC__ > 3 || (__GNUC__ == 3 && __GNUC_MINOR__ >= 1)
#   define VIR_DEPRECATED __attribute__((__deprecated__))
#  else
#   define VIR_DEPRECATED /* nothing */
#  endif
# endif
# define VIR_VERSION 9000000
# if VIR_VERSION >= 9000000
#  define VIR_A 1
# elif 1
#  define VIR_A 2
# else
#  define VIR_A 3
# endif
# if 0
#  bogus directive in a branch that is not read
#  if bad expression (
#  endif
# elif defined VIR_VERSION
#  define VIR_B 4
# endif
# define LIBVIR_VERSION_NUMBER @LIBVIRT_VERSION_NUMBER@
`)
	if m := s.macro("VIR_A"); m == nil || m.value.Int64() != 1 {
		t.Errorf("VIR_A = %+v, want the #if branch's 1", m)
	}
	if m := s.macro("VIR_B"); m == nil || m.value.Int64() != 4 {
		t.Errorf("VIR_B = %+v, want the #elif branch's 4", m)
	}
	if s.macro("VIR_DEPRECATED") != nil {
		t.Error("VIR_DEPRECATED, empty in the branch read, was kept")
	}
	for _, bad := range []string{"#if A\n", "#endif\n", "#ifdef A\n#else\n#else\n#endif\n", "#if 1 +\n#endif\n", "#frobnicate\n"} {
		if _, err := hdrTestParse(t, "bad.h", bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestHdrConstName(t *testing.T) {
	for c, want := range map[string]string{
		"VIR_DOMAIN_START_RESET_NVRAM":                 "DomainStartResetNvram",
		"VIR_DOMAIN_EVENT_ID_LIFECYCLE":                "DomainEventIDLifecycle",
		"VIR_ERR_NO_SUPPORT":                           "ErrNoSupport",
		"VIR_FROM_QEMU":                                "FromQEMU",
		"VIR_ERR_RPC":                                  "ErrRPC",
		"VIR_UUID_STRING_BUFLEN":                       "UUIDStringBuflen",
		"VIR_DOMAIN_SCHEDULER_CPU_SHARES":              "DomainSchedulerCPUShares",
		"VIR_NODE_SEV_CPU0_ID":                         "NodeSevCpu0ID",
		"VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2":              "DomainEventIDBlockJob2",
		"VIR_CONNECT_LIST_NETWORKS_ACTIVE":             "ConnectListNetworksActive",
		"VIR_IP_ADDR_TYPE_IPV4":                        "IPAddrTypeIpv4",
		"VIR_DOMAIN_XML_SECURE":                        "DomainXMLSecure",
		"VIR_NODE_CPU_STATS_ALL_CPUS":                  "NodeCPUStatsAllCpus",
		"VIR_CONNECT_IDENTITY_X509_DISTINGUISHED_NAME": "ConnectIdentityX509DistinguishedName",
	} {
		got, err := hdrConstName(c)
		if err != nil || got != want {
			t.Errorf("hdrConstName(%s) = %q, %v; want %q", c, got, err, want)
		}
	}
	for _, bad := range []string{"LIBVIRT_H", "VIR_2ND", "VIR_"} {
		if got, err := hdrConstName(bad); err == nil {
			t.Errorf("hdrConstName(%s) = %q, want an error", bad, got)
		}
	}
	if got, err := hdrTypeName("virDomainState"); err != nil || got != "DomainState" {
		t.Errorf("hdrTypeName(virDomainState) = %q, %v", got, err)
	}
	if _, err := hdrTypeName("_virDomain"); err == nil {
		t.Error("hdrTypeName(_virDomain): no error")
	}
}

func TestHdrCollisions(t *testing.T) {
	for _, c := range []struct{ src, both string }{
		{"typedef enum { VIR_A_1_B, VIR_A1_B } virA;", "VIR_A_1_B (x.h:1) and VIR_A1_B"},
		{"typedef enum { VIR_FOO_BAR } virFooBar;", "virFooBar (x.h:1) and VIR_FOO_BAR"},
		{"typedef enum { VIR_X_Y } virXYType;\n#define VIR_X__Y 3\n", "VIR_X_Y (x.h:1) and VIR_X__Y"},
	} {
		_, err := hdrTestParse(t, "x.h", c.src)
		if err == nil || !strings.Contains(err.Error(), c.both) || !strings.Contains(err.Error(), "collision") {
			t.Errorf("%q: error %v, want a collision naming %s", c.src, err, c.both)
		}
	}
	// A string macro named like a type is that type's typed parameter.
	s := hdrMustParse(t, "x.h", "typedef enum { VIR_JOB_OP_NONE } virJobOp;\n#define VIR_JOB_OP \"operation\"\n")
	if m := s.macro("VIR_JOB_OP"); m.goName != "JobOpParam" {
		t.Errorf("VIR_JOB_OP is %s, want JobOpParam", m.goName)
	}
	for _, src := range []string{
		"typedef enum { VIR_A } virAType;\ntypedef enum { VIR_A } virBType;",
		"#define VIR_A 1\n#define VIR_A 1\n",
		"#define VIR_A 1\ntypedef enum { VIR_A } virBType;",
	} {
		if _, err := hdrTestParse(t, "x.h", src); err == nil || !strings.Contains(err.Error(), "VIR_A") {
			t.Errorf("%q: error %v, want one naming VIR_A", src, err)
		}
	}
}

func TestHdrUnresolvedEnumIsSkipped(t *testing.T) {
	s := hdrMustParse(t, "x.h", `
typedef enum { VIR_OLD_INT = VIR_TYPED_PARAM_INT, VIR_OLD_UINT } virOldType;
#define VIR_OLD_REF VIR_OLD_UINT
typedef enum { VIR_KEPT_ONE } virKept;
`)
	if s.enum("virOldType") != nil || s.macro("VIR_OLD_REF") != nil || s.enum("virKept") == nil {
		t.Fatal("want virOldType and VIR_OLD_REF skipped and virKept kept")
	}
	if !strings.Contains(strings.Join(s.skipped, "\n"), "VIR_TYPED_PARAM_INT is not defined") {
		t.Errorf("skipped list does not say why: %q", s.skipped)
	}
	// An enumerator that does not evaluate skips its enum, as above.
	s = hdrMustParse(t, "x.h", "typedef enum { VIR_BAD = 1 << 31 } virBad;")
	if s.enum("virBad") != nil || !strings.Contains(strings.Join(s.skipped, ""), "overflows int") {
		t.Errorf("a signed 1 << 31 was not refused: %q", s.skipped)
	}
	if _, err := hdrTestParse(t, "x.h", "typedef enum { VIR_HUGE = 0x100000000 } virHuge;"); err == nil {
		t.Error("an enum beyond uint32: no error")
	}
}

func TestHdrEval(t *testing.T) {
	for expr, want := range map[string]string{
		"1 << 5":                "32",
		"1U << 31":              "2147483648",
		"(1 << 30) | (1 << 29)": "1610612736",
		"0x7fffffff":            "2147483647",
		"0xFFFFFFFF":            "4294967295",
		"0xFFFFFFFF + 1":        "0", // unsigned int wraps, as in C
		"-1U":                   "4294967295",
		"~0U":                   "4294967295",
		"~0":                    "-1",
		"-1":                    "-1",
		"- - 2":                 "2",
		"2147483648":            "2147483648", // a long
		"-2147483648":           "-2147483648",
		"9007199254740991LL":    "9007199254740991",
		"0xFFFFFFFFFFFFFFFFULL": "18446744073709551615",
		"010":                   "8",
		"(256 + 1)":             "257",
		"-7 / 2":                "-3",
		"-7 % 2":                "-1",
		"16 >> 2":               "4",
		"-16 >> 2":              "-4",
		"1 + 2 * 3 - 4 / 2":     "5",
		"1 | 2 ^ 3 & 1":         "3",
		"3 > 2 && 2 > 1 || 0":   "1",
		"!0 + !5":               "1",
		"-1 < 0U":               "0", // -1 becomes UINT_MAX
		"-1 < 0L":               "1",
		"1 == 1 != 0":           "1",
	} {
		toks, err := hdrLex("e", expr, 1)
		if err != nil {
			t.Fatal(err)
		}
		v, err := hdrEval(toks, func(n string) (hdrCVal, error) { t.Fatalf("lookup %s", n); return hdrCVal{}, nil })
		if err != nil || v.v.String() != want {
			t.Errorf("%s = %v, %v; want %s", expr, v.v, err, want)
		}
	}
	for expr, want := range map[string]string{
		"1 << 31":             "overflows int",
		"2147483647 + 1":      "overflows int",
		"1 << 32":             "shift by 32",
		"1 << -1":             "shift by -1",
		"-1 << 1":             "negative",
		"1 / 0":               "division by zero",
		"(1":                  "missing )",
		"1 2":                 "unexpected",
		"1.5":                 "not an integer",
		"08":                  "not an integer",
		"0x1FFFFFFFFFFFFFFFF": "too large",
		"1 +":                 "ends early",
		"sizeof(int)":         "not defined",
		"\"s\"":               "cannot start",
	} {
		toks, err := hdrLex("e", expr, 1)
		if err != nil {
			t.Fatal(err)
		}
		_, err = hdrEval(toks, func(n string) (hdrCVal, error) { return hdrCVal{}, fmt.Errorf("%s is not defined", n) })
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one with %q", expr, err, want)
		}
	}
}

func TestHdrLexErrors(t *testing.T) {
	for _, src := range []string{"/* open", "#define VIR_S \"open\n", "typedef enum { VIR_A = } virA;", "typedef enum { VIR_A VIR_B } virA;", "typedef enum { VIR_A };", "enum { VIR_A };\ntypedef enum { 3 } virB;"} {
		if _, err := hdrTestParse(t, "bad.h", src); err == nil {
			t.Errorf("%q: no error", src)
		}
	}
}

// TestHdrRender type-checks the Go written for the snippets and checks its
// shape.
func TestHdrRender(t *testing.T) {
	s := hdrMustParse(t, "test.h", hdrTestEnums, "macros.h", hdrTestMacros)
	fset := token.NewFileSet()
	var files []*ast.File
	var all []string
	for _, f := range s.files {
		code, err := hdrRender(f)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := hdrRender(f)
		if !bytes.Equal(code, again) {
			t.Errorf("%s: two renders differ", f.name)
		}
		if !strings.HasPrefix(string(code), "// Code generated by cmd/protogen from libvirt 9.0's public headers. DO NOT EDIT.\n") {
			t.Errorf("%s: first line is not the generated-code line:\n%s", f.name, code)
		}
		af, err := parser.ParseFile(fset, f.name+".go", code, parser.ParseComments)
		if err != nil {
			t.Fatalf("%s: %v\n%s", f.name, err, code)
		}
		if !ast.IsGenerated(af) {
			t.Errorf("%s: go/ast does not see it as generated", f.name)
		}
		files = append(files, af)
		all = append(all, string(code))
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	if _, err := conf.Check("vir", fset, files, nil); err != nil {
		t.Fatalf("the generated code does not type-check: %v\n%s", err, strings.Join(all, "\n"))
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{
		"type TestState int32",
		"\tTestE TestState = -3\n",
		"type TestFlags uint32",
		"\tTestFlagTop TestFlags = 1 << 31\n",
		"\tTestFlagAb TestFlags = 0x3\n",
		"\tTestMaskHigh TestMask = 0xf0\n",
		"\t// TestA is VIR_TEST_A.\n",
		"func (v TestState) String() string",
		"\tcase TestB:\n\t\treturn \"VIR_TEST_B\"\n",
		"\tTestStr = \"cpu_shares\"\n",
		"\tTestAlias = MacroC\n",
		"\tTestLl = 9007199254740991\n",
		"// Source: macros.h\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, unwanted := range []string{"func (v TestFlags) String", "case TestK:", "VIR_TEST_LAST", "TestLast", "implicit"} {
		if strings.Contains(text, unwanted) {
			t.Errorf("output has %q", unwanted)
		}
	}
}

// hdrLibvirtInclude is the include/libvirt directory of a libvirt 9.0
// source tree, or "" when this machine has none.
func hdrLibvirtInclude() string {
	for _, dir := range []string{os.Getenv("GOVIRT_LIBVIRT_INCLUDE"), "/tmp/lvsrc/libvirt-9.0.0/include/libvirt"} {
		if dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "libvirt-domain.h")); err == nil {
			return dir
		}
	}
	return ""
}

// TestGenVocabularyLibvirt90 runs the generator on libvirt 9.0's headers
// and checks the committed vir package is what it writes. With
// -vocab.update it rewrites the committed files instead.
func TestGenVocabularyLibvirt90(t *testing.T) {
	dir := hdrLibvirtInclude()
	if dir == "" {
		t.Skip("no libvirt 9.0 headers here: set GOVIRT_LIBVIRT_INCLUDE to a source tree's include/libvirt")
	}
	out := t.TempDir()
	rep, err := hdrGenerate(dir, out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.enums < 160 || rep.enumerators < 900 || rep.strings < 250 {
		t.Errorf("only %d enum types, %d enumerators, %d string macros", rep.enums, rep.enumerators, rep.strings)
	}
	for _, s := range rep.skipped {
		if strings.Contains(s, "enum ") {
			t.Errorf("an enum was skipped: %s", s)
		}
	}
	out2 := t.TempDir()
	if _, err := hdrGenerate(dir, out2); err != nil {
		t.Fatal(err)
	}
	got := hdrReadGen(t, out)
	if again := hdrReadGen(t, out2); !hdrSameFiles(got, again) {
		t.Error("two runs on the same headers wrote different files")
	}
	committed := filepath.Join("..", "..", "vir")
	if *vocabUpdate {
		for name, b := range got {
			if err := os.WriteFile(filepath.Join(committed, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	if !hdrSameFiles(got, hdrReadGen(t, committed)) {
		t.Errorf("vir/*.gen.go differ from what %s gives: run `make generate` (or go test ./cmd/protogen -run TestGenVocabularyLibvirt90 -vocab.update)", dir)
	}
}

func hdrReadGen(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(n)] = b
	}
	return files
}

func hdrSameFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for name, x := range a {
		if y, ok := b[name]; !ok || !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}
