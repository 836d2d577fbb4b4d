package compat_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/govirt/govirtd/internal/testutil"
)

// scriptLine is one command of testdata/compat/virsh.txt.
type scriptLine struct {
	text    string   // as written: the key in gaps.txt
	args    []string // virsh's arguments, @FILE and $TMP not yet expanded
	maskNum bool     // [num]: numbers move with time
}

func readScript(t *testing.T) []scriptLine {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, "virsh.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []scriptLine
	for i, text := range strings.Split(string(data), "\n") {
		text = strings.TrimSpace(text)
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		l := scriptLine{text: text}
		rest := text
		if r, ok := strings.CutPrefix(rest, "[num] "); ok {
			l.maskNum, rest = true, r
		}
		l.args, err = splitWords(rest)
		if err != nil {
			t.Fatalf("virsh.txt:%d: %v", i+1, err)
		}
		lines = append(lines, l)
	}
	return lines
}

// splitWords splits a line into words as a shell would for words in
// single or double quotes, without any expansion.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// run is what one virsh run printed and how it exited.
type run struct {
	stdout, stderr string
	code           int
}

func virsh(t *testing.T, bin string, tgt target, home string, args []string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.HangTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"-q", "-c", tgt.uri()}, args...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "HOME="+home, "EDITOR=true", "VISUAL=true", "LIBVIRT_AUTOSTART=0")
	cmd.Stdin = nil
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("virsh %s against %s hung and was killed\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), tgt.name, out.String(), errb.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("virsh %s: %v", strings.Join(args, " "), err)
	}
	return run{stdout: out.String(), stderr: errb.String(), code: code}
}

// expand replaces @FILE and $TMP in the arguments for one target.
func expand(args []string, tgt target) []string {
	abs, _ := filepath.Abs(dataDir)
	out := make([]string, len(args))
	for i, a := range args {
		if f, ok := strings.CutPrefix(a, "@"); ok {
			a = filepath.Join(abs, f)
		}
		out[i] = strings.ReplaceAll(a, "$TMP", tgt.tmp)
	}
	return out
}

var (
	uuidRE    = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
	timeRE    = regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}( [+-]\d{4})?`)
	epochRE   = regexp.MustCompile(`<creationTime>\d+</creationTime>`)
	numRE     = regexp.MustCompile(`\d+`)
	cpuTimeRE = regexp.MustCompile(`(?m)^(CPU time: +)\S+`)
	// Domain ids depend on how many domains were started before, which
	// a gap earlier in the script changes; they are masked.
	domIDRE  = regexp.MustCompile(`(<domain [^>]*id=)['"]\d+['"]`)
	infoIDRE = regexp.MustCompile(`(?m)^Id:( +)\d+`)
	listIDRE = regexp.MustCompile(`(?m)^ (\d+) +(\S+ +(running|paused|shut off|idle|in shutdown|crashed|pmsuspended))`)
)

// mask replaces what legitimately differs between the two daemons:
// their temporary directories, uuids, times and the host name; with
// maskNum every number. XML is compared canonically.
func mask(s string, tgt target, maskNum bool) string {
	s = strings.ReplaceAll(s, tgt.tmp, "$TMP")
	s = strings.ReplaceAll(s, tgt.sock, "$SOCK")
	if h, err := os.Hostname(); err == nil && h != "" {
		s = regexp.MustCompile(`\b`+regexp.QuoteMeta(h)+`\b`).ReplaceAllString(s, "HOSTNAME")
	}
	// libvirt's test driver reports the wall clock as a domain's CPU time.
	s = cpuTimeRE.ReplaceAllString(s, "${1}TIME")
	s = uuidRE.ReplaceAllString(s, "UUID")
	s = epochRE.ReplaceAllString(s, "<creationTime>TIME</creationTime>")
	s = timeRE.ReplaceAllString(s, "TIME")
	s = domIDRE.ReplaceAllString(s, "${1}'ID'")
	s = infoIDRE.ReplaceAllString(s, "Id:${1}ID")
	s = listIDRE.ReplaceAllString(s, " ID   $2")
	if maskNum {
		s = numRE.ReplaceAllString(s, "N")
	}
	if strings.HasPrefix(strings.TrimSpace(s), "<") {
		if c, err := canonicalXML(s); err == nil {
			return c
		}
	}
	return s
}

// canonicalXML is doc with attributes sorted, whitespace between
// elements dropped, empty elements and quoting style normalised: two
// documents that mean the same print the same.
func canonicalXML(doc string) (string, error) {
	dec := xml.NewDecoder(strings.NewReader(doc))
	var b strings.Builder
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			attrs := make([]string, 0, len(tok.Attr))
			for _, a := range tok.Attr {
				name := a.Name.Local
				if a.Name.Space != "" {
					name = a.Name.Space + ":" + name
				}
				attrs = append(attrs, fmt.Sprintf("%s=%q", name, a.Value))
			}
			sort.Strings(attrs)
			fmt.Fprintf(&b, "%s<%s %s>\n", strings.Repeat("  ", depth), tok.Name.Local, strings.Join(attrs, " "))
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if s := strings.TrimSpace(string(tok)); s != "" {
				fmt.Fprintf(&b, "%s%q\n", strings.Repeat("  ", depth), s)
			}
		}
	}
	return b.String(), nil
}

// virshCommands is every command `virsh help` lists, by group.
func virshCommands(t *testing.T, bin string) map[string]string {
	t.Helper()
	out, err := exec.Command(bin, "help").Output()
	if err != nil {
		t.Fatalf("virsh help: %v", err)
	}
	cmds := map[string]string{}
	group := ""
	keyRE := regexp.MustCompile(`help keyword '([a-z]+)'`)
	for _, line := range strings.Split(string(out), "\n") {
		if m := keyRE.FindStringSubmatch(line); m != nil {
			group = m[1]
		} else if f := strings.Fields(line); strings.HasPrefix(line, "    ") && len(f) > 0 {
			cmds[f[0]] = group
		}
	}
	if len(cmds) < 100 {
		t.Fatalf("virsh help listed only %d commands:\n%s", len(cmds), out)
	}
	return cmds
}

// runVirshScript runs every line of the script against libvirtd, then
// govirtd, and classifies the pair.
func runVirshScript(t *testing.T, lv, gv target) []result {
	bin := testutil.RequireBinary(t, "virsh", "libvirt-clients")
	script := readScript(t)
	covered := map[string]bool{}
	for _, l := range script {
		covered[l.args[0]] = true
	}
	var missing []string
	for cmd, group := range virshCommands(t, bin) {
		if !covered[cmd] {
			missing = append(missing, group+"/"+cmd)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("virsh.txt lacks %d commands of `virsh help`: %s", len(missing), strings.Join(missing, " "))
	}
	home := t.TempDir()
	var results []result
	for _, l := range script {
		// The two daemons are independent: each line runs on both at once.
		var a, b run
		done := make(chan struct{})
		go func() { a = virsh(t, bin, lv, home, expand(l.args, lv)); close(done) }()
		b = virsh(t, bin, gv, home, expand(l.args, gv))
		<-done
		r := result{key: l.text}
		ao, bo := mask(a.stdout, lv, l.maskNum), mask(b.stdout, gv, l.maskNum)
		switch {
		case a.code == 0 && b.code == 0 && ao == bo:
			r.kind = same
		case a.code != 0 && b.code != 0:
			r.kind = bothFail
		case a.code == 0 && b.code != 0:
			r.kind = gap
		case a.code != 0:
			r.kind = extra
		default:
			r.kind = wrong
		}
		if r.kind != same {
			r.detail = fmt.Sprintf("--- libvirtd (exit %d):\n%s%s--- govirtd (exit %d):\n%s%s", a.code, ao, a.stderr, b.code, bo, b.stderr)
		}
		if testing.Verbose() && r.kind != same {
			t.Logf("%s: %s\n%s", kindNames[r.kind], l.text, r.detail)
		}
		results = append(results, r)
	}
	return results
}
