package storm

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/dhcpc"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/phone"
)

// ProtocolStats sum the transfers of one protocol.
type ProtocolStats struct {
	Requests int   `json:"requests"`
	Errors   int   `json:"errors"` // includes "not found" answers and fallbacks
	Bytes    int64 `json:"bytes"`
	// Connections counts the TCP connections the phones opened (for
	// HTTPS, the TLS handshakes they began); 0 for TFTP.
	Connections int `json:"connections"`
	// Untrusted and Unreachable count the errors that were a server
	// certificate the phone does not trust and a connection that could
	// not be made (refused, or a connect that timed out). After either a
	// simulated Avaya phone takes the rest of its boot's files over HTTP
	// (phone.avayaGet: IP Office manual 15-601046 says HTTPS first, no
	// answer → HTTP; that the phone stays on HTTP for the boot is
	// unconfirmed).
	Untrusted   int `json:"untrusted,omitempty"`
	Unreachable int `json:"unreachable,omitempty"`
	// TimedOut counts the errors that were a TLS handshake or an answer
	// past the phone's timeouts on a connection that was made; the
	// simulated phone takes that file from its next server (HTTP) and
	// tries HTTPS again for the next one (unconfirmed, see
	// phone.avayaGet).
	TimedOut int `json:"timed_out,omitempty"`
}

// ModelStats are one model's outcomes.
type ModelStats struct {
	Phones      int `json:"phones"`
	Provisioned int `json:"provisioned"`
	Kept        int `json:"kept"`
	Failed      int `json:"failed"`
}

// Durations are percentiles of the time from power-on to provisioned.
type Durations struct {
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
	Max time.Duration `json:"max_ns"`
}

// Summary is how a storm went.
type Summary struct {
	Seed            uint64                   `json:"seed"`
	Phones          int                      `json:"phones"`
	Provisioned     int                      `json:"provisioned"`
	Kept            int                      `json:"kept"`
	Failed          int                      `json:"failed"`
	Duration        time.Duration            `json:"duration_ns"`
	Time            Durations                `json:"time_to_provisioned"`
	LeaseTime       Durations                `json:"time_to_lease"`
	Models          map[string]ModelStats    `json:"models"`
	FailedSteps     map[string]int           `json:"failed_steps,omitempty"`
	Protocols       map[string]ProtocolStats `json:"protocols"`
	FirmwareUpdated int                      `json:"firmware_updated"`
	// Backups count what became of the phones' settings backups, by
	// phone.BackupDone and phone.BackupFTPSkipped.
	Backups map[string]int `json:"backups,omitempty"`
	DHCP    dhcpc.Stats    `json:"dhcp"`
	Results []phone.Result `json:"results"`
}

// OK is true when no phone failed.
func (s Summary) OK() bool { return s.Failed == 0 }

// Percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of sorted
// durations; 0 for none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func percentiles(ds []time.Duration) Durations {
	slices.Sort(ds)
	return Durations{P50: Percentile(ds, 50), P95: Percentile(ds, 95), Max: Percentile(ds, 100)}
}

func summarize(results []phone.Result, d time.Duration, seed uint64, protocols map[string]ProtocolStats) Summary {
	s := Summary{Seed: seed, Phones: len(results), Duration: d, Models: map[string]ModelStats{},
		FailedSteps: map[string]int{}, Protocols: protocols, Results: results}
	var times, leases []time.Duration
	for _, r := range results {
		if r.Leased > 0 {
			leases = append(leases, r.Leased)
		}
		ms := s.Models[r.Model]
		ms.Phones++
		switch r.State {
		case phone.Provisioned:
			s.Provisioned++
			ms.Provisioned++
			times = append(times, r.Elapsed)
		case phone.Kept:
			s.Kept++
			ms.Kept++
			times = append(times, r.Elapsed)
		default:
			s.Failed++
			ms.Failed++
			s.FailedSteps[r.Step]++
		}
		if r.Firmware != r.FirmwareBefore {
			s.FirmwareUpdated++
		}
		if r.Backup != "" {
			if s.Backups == nil {
				s.Backups = map[string]int{}
			}
			s.Backups[r.Backup]++
		}
		s.Models[r.Model] = ms
	}
	s.Time = percentiles(times)
	s.LeaseTime = percentiles(leases)
	return s
}

// Failures returns the failed phones' results.
func (s Summary) Failures() []phone.Result {
	var out []phone.Result
	for _, r := range s.Results {
		if r.State == phone.Failed {
			out = append(out, r)
		}
	}
	return out
}

// WriteText prints the summary for people; at most maxFailures failures
// are listed one by one (0: all).
func (s Summary) WriteText(w io.Writer, maxFailures int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "phonesim: %d phones in %s (seed %d)\n", s.Phones, round(s.Duration), s.Seed)
	fmt.Fprintf(&b, "  provisioned %d, kept their own configuration %d, failed %d; firmware updated on %d\n",
		s.Provisioned, s.Kept, s.Failed, s.FirmwareUpdated)
	fmt.Fprintf(&b, "  time to provisioned: p50 %s, p95 %s, max %s (first lease: p50 %s, p95 %s, max %s)\n",
		round(s.Time.P50), round(s.Time.P95), round(s.Time.Max), round(s.LeaseTime.P50), round(s.LeaseTime.P95), round(s.LeaseTime.Max))
	if n := s.Backups[phone.BackupDone] + s.Backups[phone.BackupFTPSkipped]; n > 0 {
		fmt.Fprintf(&b, "  backups: %d saved by HTTP PUT", s.Backups[phone.BackupDone])
		if k := s.Backups[phone.BackupFTPSkipped]; k > 0 {
			fmt.Fprintf(&b, "; %d not made (4600: backs up by FTP to FTPSRVR only, which phoneprov does not serve)", k)
		}
		b.WriteString("\n")
	}
	names := make([]string, 0, len(s.Models))
	for n := range s.Models {
		names = append(names, n)
	}
	sort.Strings(names)
	b.WriteString("  by model:")
	for _, n := range names {
		m := s.Models[n]
		fmt.Fprintf(&b, " %s %d/%d", n, m.Provisioned+m.Kept, m.Phones)
	}
	b.WriteString(" (done/phones)\n")
	b.WriteString("  transfers:")
	for _, p := range []string{"https", "http", "tftp"} {
		if ps, ok := s.Protocols[p]; ok {
			fmt.Fprintf(&b, " %s %d requests %s (%d unsuccessful", p, ps.Requests, bytesText(ps.Bytes), ps.Errors)
			if ps.Untrusted > 0 {
				fmt.Fprintf(&b, ", %d not trusted", ps.Untrusted)
			}
			if ps.Unreachable > 0 {
				fmt.Fprintf(&b, ", %d unreachable", ps.Unreachable)
			}
			if ps.TimedOut > 0 {
				fmt.Fprintf(&b, ", %d timed out", ps.TimedOut)
			}
			b.WriteString(")")
			if ps.Connections > 0 {
				fmt.Fprintf(&b, " on %d connections", ps.Connections)
			}
			b.WriteString(";")
		}
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  dhcp: %d sent, %d received (%d offers, %d acks, %d naks), %d malformed, %d longer than option 57, %d not ours\n",
		s.DHCP.Sent, s.DHCP.Received, s.DHCP.Offers, s.DHCP.Acks, s.DHCP.Naks, s.DHCP.Malformed, s.DHCP.Oversize, s.DHCP.Unmatched)
	if f := s.Failures(); len(f) > 0 {
		steps := make([]string, 0, len(s.FailedSteps))
		for st, n := range s.FailedSteps {
			steps = append(steps, fmt.Sprintf("%s %d", st, n))
		}
		sort.Strings(steps)
		fmt.Fprintf(&b, "  failed by step: %s\n", strings.Join(steps, ", "))
		b.WriteString("  failures:\n")
		for i, r := range f {
			if maxFailures > 0 && i == maxFailures {
				fmt.Fprintf(&b, "    … and %d more (--json lists them all)\n", len(f)-i)
				break
			}
			fmt.Fprintf(&b, "    %s %-8s %-8s %s\n", r.MAC, r.Model, r.Step, r.Reason)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
