package main

import (
	"strings"
	"testing"

	"github.com/govirt/govirtd/remote"
	"github.com/govirt/govirtd/vir"
)

func TestTable(t *testing.T) {
	tb := newTable("Id", "Name", "State")
	tb.add("1", "test", "running")
	tb.add("-", "a\tb", "shut off")
	var b strings.Builder
	tb.write(&b, true)
	want := " Id   Name     State\n" +
		"-------------------------\n" +
		" 1    test     running\n" +
		" -    a\\x09b   shut off\n"
	if b.String() != want {
		t.Errorf("table:\n%q\nwant\n%q", b.String(), want)
	}
	// Without the header (virsh -q), only the rows count for the widths.
	b.Reset()
	tb = newTable("Identifier", "Name")
	tb.add("1", "x")
	tb.write(&b, false)
	if want := " 1   x\n"; b.String() != want {
		t.Errorf("quiet table %q, want %q", b.String(), want)
	}
}

func TestSafeEncode(t *testing.T) {
	for in, want := range map[string]struct {
		out   string
		width int
	}{
		"plain":     {"plain", 5},
		"tab\there": {"tab\\x09here", 11},
		`a\xb`:      {`a\x5cxb`, 7},
		"\xff":      {`\xff`, 4},
		"héllo":     {"héllo", 5},
		"日本":        {"日本", 4},
	} {
		out, width := safeEncode(in)
		if out != want.out || width != want.width {
			t.Errorf("safeEncode(%q) = %q, %d; want %q, %d", in, out, width, want.out, want.width)
		}
	}
}

func TestSortDomains(t *testing.T) {
	doms := []remote.Domain{
		{Name: "zeta", ID: -1}, {Name: "b", ID: 10}, {Name: "Alpha", ID: -1}, {Name: "a", ID: 2}, {Name: "beta", ID: -1},
	}
	sortDomains(doms)
	var got []string
	for _, d := range doms {
		got = append(got, d.Name)
	}
	if want := "a b Alpha beta zeta"; strings.Join(got, " ") != want {
		t.Errorf("sorted %q, want %q", strings.Join(got, " "), want)
	}
}

func TestParseID(t *testing.T) {
	for in, want := range map[string]int32{"0": 0, "42": 42, " 7": 7, "+3": 3} {
		if id, ok := parseID(in); !ok || id != want {
			t.Errorf("parseID(%q) = %d, %v; want %d", in, id, ok, want)
		}
	}
	for _, in := range []string{"-1", "demo", "1x", "", "99999999999", "0x10"} {
		if _, ok := parseID(in); ok {
			t.Errorf("parseID(%q) accepted", in)
		}
	}
}

func TestReasonString(t *testing.T) {
	cases := []struct {
		state  vir.DomainState
		reason int32
		want   string
	}{
		{vir.DomainRunning, int32(vir.DomainRunningBooted), "booted"},
		{vir.DomainPaused, int32(vir.DomainPausedUser), "user"},
		{vir.DomainShutoff, int32(vir.DomainShutoffSaved), "saved"},
		{vir.DomainShutoff, 99, "unknown"},
		{vir.DomainState(42), 0, "unknown"},
		{vir.DomainRunning, -1, "unknown"},
	}
	for _, c := range cases {
		if got := reasonString(c.state, c.reason); got != c.want {
			t.Errorf("reasonString(%v, %d) = %q, want %q", c.state, c.reason, got, c.want)
		}
	}
}
