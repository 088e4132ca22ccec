package storm

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// stepOrder is the order a phone goes through, for progress lines.
var stepOrder = []string{"off", "dhcp", "script", "settings", "certs", "firmware", "reboot", "backup"}

// steps lists the phones at work by step, in boot order.
func (s Snapshot) steps() string {
	var parts []string
	seen := map[string]bool{}
	for _, st := range stepOrder {
		if n := s.Steps[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, n))
		}
		seen[st] = true
	}
	var rest []string
	for st, n := range s.Steps {
		if !seen[st] && n > 0 {
			rest = append(rest, fmt.Sprintf("%s %d", st, n))
		}
	}
	sort.Strings(rest)
	return strings.Join(append(parts, rest...), ", ")
}

// Bar draws the snapshot as one self-overwriting terminal line.
func Bar(w io.Writer, s Snapshot, final bool) {
	const width = 30
	filled := 0
	if s.Phones > 0 {
		filled = s.Done() * width / s.Phones
	}
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", width-filled)
	line := fmt.Sprintf("[%s] %d/%d  ok %d  kept %d  failed %d  %5.1fs", bar, s.Done(), s.Phones, s.Provisioned, s.Kept, s.Failed, s.Elapsed.Seconds())
	if st := s.steps(); st != "" && !final {
		line += "  | " + st
	}
	// \r and clear to the end of the line: the previous line may be longer.
	fmt.Fprintf(w, "\r%s\x1b[K", line)
	if final {
		fmt.Fprintln(w)
	}
}

// Line writes the snapshot as one log-friendly line.
func Line(w io.Writer, s Snapshot) {
	line := fmt.Sprintf("phonesim: %.0fs: %d/%d done (%d provisioned, %d kept, %d failed)", s.Elapsed.Seconds(), s.Done(), s.Phones, s.Provisioned, s.Kept, s.Failed)
	if st := s.steps(); st != "" {
		line += "; working: " + st
	}
	fmt.Fprintln(w, line)
}
