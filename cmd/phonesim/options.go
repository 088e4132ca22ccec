package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/cmd/phonesim/facts"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/model"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/storm"
)

// options are the command line.
type options struct {
	Interface       string
	Phones          int
	Mix             []storm.Weight
	MixText         string
	Spread          time.Duration
	Seed            uint64
	PhoneTimeout    time.Duration
	DHCPFirst       time.Duration
	DHCPMax         time.Duration
	DHCPAttempts    int
	FetchTries      int
	FetchBackoff    time.Duration
	ConnectTimeout  time.Duration
	RequestTimeout  time.Duration
	TFTPTimeout     time.Duration
	TFTPRetries     int
	TFTPBlockSize   int
	TFTPPort        uint
	RebootDelay     time.Duration
	FetchBackoffMax time.Duration
	State           string
	RefuseFirmware  string
	Progress        string
	ProgressEvery   time.Duration
	JSON            bool
	List            bool
	MaxFailures     int
	Models          bool
	Verbose         bool
	// FactsDir is the phone fact table; Catalog the models built from it.
	FactsDir string
	Catalog  model.Catalog
}

const usageHead = `usage: phonesim -i INTERFACE [options]

Boots simulated desk phones on INTERFACE, all at once or spread out, like
real ones: DHCP (one socket for all, replies told apart by transaction ID),
each phone's leased address added to the interface, then the files its
model asks for over HTTPS, HTTP and TFTP. Prints progress to stderr and a
summary to stdout. Needs root (port 68, addresses on the interface): run
it in a lab network namespace, never on a production LAN.

Exit status: 0 every phone provisioned (or kept its own configuration),
1 some phone failed, 2 bad command line, 130 interrupted.

options:
`

// parseOptions reads args; it returns flag.ErrHelp after printing help.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	o := options{}
	fs := flag.NewFlagSet("phonesim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHead)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Interface, "i", "", "the `interface` the phones share (required)")
	fs.IntVar(&o.Phones, "phones", 10, "how many phones")
	fs.StringVar(&o.MixText, "mix", storm.DefaultMix, "models and shares, `model=weight,…`; -models lists the models")
	fs.StringVar(&o.FactsDir, "facts", "", "the phone fact table the models come from, testdata/phones (default: found above the working directory or this program)")
	fs.DurationVar(&o.Spread, "spread", 0, "switch the phones on at random within this long (0: all at once)")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed for MACs and boot order (0: from the clock; the summary prints it)")
	fs.DurationVar(&o.PhoneTimeout, "timeout", 5*time.Minute, "give up on a phone not provisioned this long after power-on")
	fs.DurationVar(&o.DHCPFirst, "dhcp-retry", 4*time.Second, "first DHCP retransmission wait, doubling (RFC 2131: 4s)")
	fs.DurationVar(&o.DHCPMax, "dhcp-retry-max", 64*time.Second, "longest DHCP retransmission wait")
	fs.IntVar(&o.DHCPAttempts, "dhcp-attempts", 0, "DISCOVERs before a phone gives up (0: until -timeout)")
	fs.IntVar(&o.FetchTries, "fetch-tries", 3, "rounds over all file servers for one file before the phone gives up")
	fs.DurationVar(&o.FetchBackoff, "fetch-backoff", time.Second, "wait between those rounds, doubling")
	fs.DurationVar(&o.ConnectTimeout, "connect-timeout", 5*time.Second, "TCP connect and TLS handshake timeout")
	fs.DurationVar(&o.RequestTimeout, "request-timeout", 60*time.Second, "timeout for one HTTP(S) or TFTP transfer")
	fs.DurationVar(&o.TFTPTimeout, "tftp-timeout", 2*time.Second, "TFTP retransmission timeout")
	fs.IntVar(&o.TFTPRetries, "tftp-retries", 5, "TFTP resends of one packet")
	fs.IntVar(&o.TFTPBlockSize, "tftp-blksize", 1024, "TFTP block size asked for (0: none, 512)")
	fs.UintVar(&o.TFTPPort, "tftp-port", 69, "TFTP server port")
	fs.DurationVar(&o.FetchBackoffMax, "fetch-backoff-max", 0, "longest wait between those rounds (0: no cap); how long a real phone waits after HTTP 503 or TFTP busy is unconfirmed")
	fs.StringVar(&o.State, "state", "", "a `file` of what each phone keeps across power cycles (address, firmware, certificates): read at the start, written at the end, so a later run with the same -seed powers the same phones on as they were left; keeping the address and certificates is unconfirmed for real phones")
	fs.StringVar(&o.RefuseFirmware, "refuse-firmware", "", "a firmware `version` (or APPNAME) the phones download but do not take: they restart on their old firmware (a fault injected for roll-out tests; unconfirmed as real phone behaviour)")
	fs.DurationVar(&o.RebootDelay, "reboot-delay", 0, "how long a restart after a firmware update takes")
	fs.StringVar(&o.Progress, "progress", "auto", "progress on stderr: auto (bar on a terminal, else lines), bar, lines, none")
	fs.DurationVar(&o.ProgressEvery, "progress-every", 0, "progress interval (default 200ms for the bar, 5s for lines)")
	fs.BoolVar(&o.JSON, "json", false, "print the summary, every phone included, as JSON")
	fs.BoolVar(&o.List, "list", false, "also print one line per phone")
	fs.IntVar(&o.MaxFailures, "max-failures", 50, "failures listed one by one in the text summary (0: all)")
	fs.BoolVar(&o.Models, "models", false, "list the models and exit")
	fs.BoolVar(&o.Verbose, "v", false, "log each phone's failure as it happens")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usageError(fs, stderr, "unexpected argument %q", fs.Arg(0))
	}
	if o.FactsDir == "" {
		starts := []string{"."}
		if exe, err := os.Executable(); err == nil {
			starts = append(starts, filepath.Dir(exe))
		}
		dir, err := model.FindTable(starts...)
		if err != nil {
			return o, usageError(fs, stderr, "%v", err)
		}
		o.FactsDir = dir
	}
	cat, err := model.LoadDir(o.FactsDir)
	if err != nil {
		return o, usageError(fs, stderr, "%v", err)
	}
	o.Catalog = cat
	if o.Models {
		return o, nil
	}
	var problems []string
	if o.Interface == "" {
		problems = append(problems, "-i INTERFACE is required")
	}
	if o.Phones < 1 || o.Phones > 60000 {
		problems = append(problems, fmt.Sprintf("-phones %d: give 1 to 60000", o.Phones))
	}
	mix, err := storm.ParseMix(cat, o.MixText)
	if err != nil {
		problems = append(problems, err.Error())
	}
	o.Mix = mix
	if o.DHCPFirst <= 0 || o.DHCPMax < o.DHCPFirst {
		problems = append(problems, "-dhcp-retry must be > 0 and ≤ -dhcp-retry-max")
	}
	if o.FetchBackoffMax < 0 {
		problems = append(problems, "-fetch-backoff-max must be ≥ 0")
	}
	if o.FetchTries < 1 {
		problems = append(problems, "-fetch-tries must be ≥ 1")
	}
	if o.PhoneTimeout <= 0 || o.ConnectTimeout <= 0 || o.RequestTimeout <= 0 || o.TFTPTimeout <= 0 {
		problems = append(problems, "timeouts must be > 0")
	}
	if o.TFTPBlockSize != 0 && (o.TFTPBlockSize < 8 || o.TFTPBlockSize > 65464) {
		problems = append(problems, "-tftp-blksize must be 0 or 8..65464")
	}
	if o.TFTPPort == 0 || o.TFTPPort > 65535 {
		problems = append(problems, "-tftp-port must be 1..65535")
	}
	switch o.Progress {
	case "auto", "bar", "lines", "none":
	default:
		problems = append(problems, fmt.Sprintf("-progress %q: one of auto, bar, lines, none", o.Progress))
	}
	if len(problems) > 0 {
		return o, usageError(fs, stderr, "%s", strings.Join(problems, "\n  "))
	}
	return o, nil
}

// errUsage marks a bad command line whose message was printed.
var errUsage = errors.New("bad command line")

func usageError(_ *flag.FlagSet, stderr io.Writer, format string, a ...any) error {
	fmt.Fprintf(stderr, "phonesim: "+format+"\n(phonesim -h for help)\n", a...)
	return errUsage
}

// writeModels prints the models: what each sends and asks for, from the
// phone fact table, and what the simulator assumes without a source.
func writeModels(w io.Writer, cat model.Catalog) {
	fmt.Fprintf(w, "%-8s %-13s %-12s %-12s %-8s %-32s %-18s %s\n", "KEY", "MODEL", "VENDOR", "FAMILY", "OUI", "OPTION 60", "OPTION 55", "FIRST FILES")
	for _, m := range cat.All() {
		vc := "-"
		if len(m.VendorClass) > 0 {
			vc = facts.Render(m.VendorClass)
		}
		p55 := make([]string, len(m.ParamRequest))
		for i, c := range m.ParamRequest {
			p55[i] = strconv.Itoa(int(c))
		}
		oui := fmt.Sprintf("%02x:%02x:%02x", m.OUI[0], m.OUI[1], m.OUI[2])
		fmt.Fprintf(w, "%-8s %-13s %-12s %-12s %-8s %-32s %-18s %s\n", m.Key, m.Name, m.Vendor, m.Family, oui, vc, strings.Join(p55, ","), strings.Join(m.FirstFiles, " "))
	}
	fmt.Fprintln(w, "\nUnconfirmed (no sourced fact; see testdata/phones):")
	for _, m := range cat.All() {
		for _, u := range m.Unconfirmed {
			fmt.Fprintf(w, "  %-8s %s\n", m.Key, u)
		}
	}
}
