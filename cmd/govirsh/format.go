package main

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/govirt/govirtd/vir"
)

// stateReasons are virsh's words for each state's reasons, indexed by
// state, then by a value of that state's reason enum.
var stateReasons = [...][]string{
	vir.DomainNostate: {vir.DomainNostateUnknown: "unknown"},
	vir.DomainRunning: {
		vir.DomainRunningUnknown:           "unknown",
		vir.DomainRunningBooted:            "booted",
		vir.DomainRunningMigrated:          "migrated",
		vir.DomainRunningRestored:          "restored",
		vir.DomainRunningFromSnapshot:      "from snapshot",
		vir.DomainRunningUnpaused:          "unpaused",
		vir.DomainRunningMigrationCanceled: "migration canceled",
		vir.DomainRunningSaveCanceled:      "save canceled",
		vir.DomainRunningWakeup:            "event wakeup",
		vir.DomainRunningCrashed:           "crashed",
		vir.DomainRunningPostcopy:          "post-copy",
		vir.DomainRunningPostcopyFailed:    "post-copy failed",
	},
	vir.DomainBlocked: {vir.DomainBlockedUnknown: "unknown"},
	vir.DomainPaused: {
		vir.DomainPausedUnknown:        "unknown",
		vir.DomainPausedUser:           "user",
		vir.DomainPausedMigration:      "migrating",
		vir.DomainPausedSave:           "saving",
		vir.DomainPausedDump:           "dumping",
		vir.DomainPausedIoerror:        "I/O error",
		vir.DomainPausedWatchdog:       "watchdog",
		vir.DomainPausedFromSnapshot:   "from snapshot",
		vir.DomainPausedShuttingDown:   "shutting down",
		vir.DomainPausedSnapshot:       "creating snapshot",
		vir.DomainPausedCrashed:        "crashed",
		vir.DomainPausedStartingUp:     "starting up",
		vir.DomainPausedPostcopy:       "post-copy",
		vir.DomainPausedPostcopyFailed: "post-copy failed",
	},
	vir.DomainShutdown: {vir.DomainShutdownUnknown: "unknown", vir.DomainShutdownUser: "user"},
	vir.DomainShutoff: {
		vir.DomainShutoffUnknown:      "unknown",
		vir.DomainShutoffShutdown:     "shutdown",
		vir.DomainShutoffDestroyed:    "destroyed",
		vir.DomainShutoffCrashed:      "crashed",
		vir.DomainShutoffMigrated:     "migrated",
		vir.DomainShutoffSaved:        "saved",
		vir.DomainShutoffFailed:       "failed",
		vir.DomainShutoffFromSnapshot: "from snapshot",
		vir.DomainShutoffDaemon:       "daemon",
	},
	vir.DomainCrashed:     {vir.DomainCrashedUnknown: "unknown", vir.DomainCrashedPanicked: "panicked"},
	vir.DomainPmsuspended: {vir.DomainPmsuspendedUnknown: "unknown"},
}

// reasonString is what virsh prints for a state's reason.
func reasonString(state vir.DomainState, reason int32) string {
	if state >= 0 && int(state) < len(stateReasons) {
		r := stateReasons[state]
		if reason >= 0 && int(reason) < len(r) {
			return r[reason]
		}
	}
	return "unknown"
}

// versionString formats a libvirt version number, major*1e6+minor*1e3+micro.
func versionString(v uint64) string {
	return fmt.Sprintf("%d.%d.%d", v/1_000_000, v%1_000_000/1000, v%1000)
}

// yesNo is virsh's word for a flag.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// table is virsh's table (vshTable): a header, rows, and columns padded
// to their widest cell.
type table struct {
	rows [][]string // rows[0] is the header
}

func newTable(header ...string) *table {
	return &table{rows: [][]string{header}}
}

func (t *table) add(cells ...string) {
	t.rows = append(t.rows, cells)
}

// write prints the table; without header (virsh -q) the header and its
// rule are left out and do not count for the widths.
func (t *table) write(w io.Writer, header bool) {
	cells := make([][]string, len(t.rows))
	widths := make([][]int, len(t.rows))
	maxw := make([]int, len(t.rows[0]))
	for i, row := range t.rows {
		cells[i] = make([]string, len(row))
		widths[i] = make([]int, len(row))
		for j, c := range row {
			cells[i][j], widths[i][j] = safeEncode(c)
			if (header || i > 0) && widths[i][j] > maxw[j] {
				maxw[j] = widths[i][j]
			}
		}
	}
	var b strings.Builder
	printRow := func(i int) {
		for j, c := range cells[i] {
			b.WriteString(" " + c)
			if j < len(cells[i])-1 {
				b.WriteString(strings.Repeat(" ", maxw[j]-widths[i][j]+2))
			}
		}
		b.WriteByte('\n')
	}
	if header {
		printRow(0)
		for _, m := range maxw {
			b.WriteString(strings.Repeat("-", m+3))
		}
		b.WriteByte('\n')
	}
	for i := 1; i < len(cells); i++ {
		printRow(i)
	}
	io.WriteString(w, b.String())
}

// safeEncode replaces control characters, bytes that are not UTF-8 and
// unprintable characters with \xNN, as virsh's tables do, and returns the
// cell with its width in columns.
func safeEncode(s string) (string, int) {
	var b strings.Builder
	width := 0
	hex := func(c byte) {
		fmt.Fprintf(&b, "\\x%02x", c)
		width += 4
	}
	for i := 0; i < len(s); {
		if (s[i] == '\\' && i+1 < len(s) && s[i+1] == 'x') || s[i] < 0x20 || s[i] == 0x7f {
			hex(s[i])
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			hex(s[i])
		case !unicode.IsGraphic(r):
			for k := 0; k < n; k++ {
				hex(s[i+k])
			}
		default:
			b.WriteString(s[i : i+n])
			width += runeWidth(r)
		}
		i += n
	}
	return b.String(), width
}

// runeWidth is the number of terminal columns r takes: 0 for combining
// marks, 2 for the wide East Asian ranges, else 1.
func runeWidth(r rune) int {
	switch {
	case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r):
		return 0
	case r >= 0x1100 && r <= 0x115f, r >= 0x2e80 && r <= 0xa4cf, r >= 0xac00 && r <= 0xd7a3,
		r >= 0xf900 && r <= 0xfaff, r >= 0xfe30 && r <= 0xfe4f, r >= 0xff00 && r <= 0xff60,
		r >= 0xffe0 && r <= 0xffe6, r >= 0x1f300 && r <= 0x1f64f, r >= 0x20000 && r <= 0x3fffd:
		return 2
	}
	return 1
}
