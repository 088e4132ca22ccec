package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// stormOptions is the command line of the boot-storm benchmark
// (phonebench -storm).
type stormOptions struct {
	Phoneprov   string
	Phonesim    string
	Dnsmasq     string
	Nginx       string
	TFTPD       string
	Files       string // the sample tree both stacks serve
	Out         string
	Phones      int
	Rounds      int
	Mix         string
	Spread      time.Duration
	Timeout     time.Duration
	Seed        uint64
	Limit       []int // storm sizes tried on phoneprov alone to find where it first fails
	DnsmasqPing bool  // keep dnsmasq's default ping check
	// PinNeighbours gives the pool permanent neighbour entries on the
	// server side, so the host's neighbour table limit is not the limit.
	PinNeighbours bool
	// ServerKey is the key type of the HTTPS certificate both stacks
	// serve: keyRSA is phoneprov's own certificate; keyECDSA is a P-256
	// one its CA issues, to see the storm without RSA's signing cost.
	ServerKey   string
	CommandLine string
}

// isStorm reports whether the command line asks for the storm benchmark.
func isStorm(args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool {
		return a == "-storm" || a == "--storm" || a == "-storm=true" || a == "--storm=true"
	})
}

func parseStormOptions(args []string, stderr io.Writer) (stormOptions, error) {
	var o stormOptions
	fs := flag.NewFlagSet("phonebench -storm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: phonebench -storm -phoneprov BIN -phonesim BIN [-out DIR] [options]\n\n"+
			"Boots N simulated phones at once (phonesim) in a lab of two network\n"+
			"namespaces (198.18.0.0/16 only) against phoneprov (DHCP and files) and\n"+
			"against the stack an operator would otherwise assemble: dnsmasq (DHCP,\n"+
			"the same classes and option strings), nginx (HTTP, HTTPS, PUT for\n"+
			"backups) and tftpd-hpa, serving phoneprov's generated files written out\n"+
			"as static files. Needs root.\n\n")
		fs.PrintDefaults()
	}
	var storm bool
	fs.BoolVar(&storm, "storm", true, "run the boot-storm benchmark")
	fs.StringVar(&o.Phoneprov, "phoneprov", "bin/phoneprov", "phoneprov `binary`")
	fs.StringVar(&o.Phonesim, "phonesim", "bin/phonesim", "phonesim `binary`")
	fs.StringVar(&o.Dnsmasq, "dnsmasq", "", "dnsmasq `binary` (default: from PATH or /usr/sbin)")
	fs.StringVar(&o.Nginx, "nginx", "", "nginx `binary` (default: from PATH or /usr/sbin)")
	fs.StringVar(&o.TFTPD, "tftpd", "", "in.tftpd `binary` (default: from PATH or /usr/sbin)")
	fs.StringVar(&o.Files, "files", "testdata/files", "the file `tree` both stacks serve (firmware)")
	fs.StringVar(&o.Out, "out", "bench-results", "`directory` for the Markdown report")
	fs.IntVar(&o.Phones, "phones", 1000, "phones in the storm")
	fs.IntVar(&o.Rounds, "rounds", 1, "storms per stack, alternating which stack goes first")
	fs.StringVar(&o.Mix, "mix", "", "phone models (phonesim -mix; default: phonesim's)")
	fs.DurationVar(&o.Spread, "spread", 0, "power-on spread (0: all at once)")
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Minute, "a phone not provisioned this long after power-on has failed")
	fs.Uint64Var(&o.Seed, "seed", 1, "phonesim seed: the same phones for every storm")
	limit := fs.String("limit", "2000,3000,4000", "storm sizes to try on phoneprov alone, in order, until one fails (\"\" for none)")
	fs.BoolVar(&o.PinNeighbours, "pin-neighbours", true, "permanent neighbour entries for the pool on the server side (else storms past the host's gc_thresh3 fail in the kernel)")
	fs.StringVar(&o.ServerKey, "server-key", keyRSA, "HTTPS certificate both stacks serve: "+keyRSA+" (phoneprov's own, RSA 2048, the key type Avaya's guides name) or "+keyECDSA+" (P-256, issued by phoneprov's CA: the storm without RSA signing; no Avaya source says the phones offer ECDSA)")
	fs.BoolVar(&o.DnsmasqPing, "dnsmasq-ping", false, "keep dnsmasq's ping check before each offer (its default; very slow in a storm)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	if !storm {
		return o, usageError(fs, "-storm=false: run phonebench without -storm for the file benchmarks")
	}
	var err error
	if *limit != "" {
		if o.Limit, err = parseSizes(*limit); err != nil {
			return o, usageError(fs, "-limit: %v", err)
		}
	}
	switch {
	case o.Phones < 1 || o.Phones > 60000:
		return o, usageError(fs, "-phones must be 1..60000")
	case o.Rounds < 1 || o.Rounds > 20:
		return o, usageError(fs, "-rounds must be 1..20")
	case o.Timeout <= 0 || o.Spread < 0:
		return o, usageError(fs, "-timeout must be positive and -spread not negative")
	case o.ServerKey != keyRSA && o.ServerKey != keyECDSA:
		return o, usageError(fs, "-server-key must be %s or %s", keyRSA, keyECDSA)
	}
	o.CommandLine = "go run ./cmd/phonebench " + benchkit.ShellJoin(args)
	return o, nil
}

// parseSizes reads "2000,3000": increasing storm sizes.
func parseSizes(s string) ([]int, error) {
	var out []int
	for p := range splitComma(s) {
		var n int
		if _, err := fmt.Sscan(p, &n); err != nil || n < 1 || n > 60000 {
			return nil, fmt.Errorf("%q is not a size from 1 to 60000", p)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, errors.New("sizes must increase")
		}
		out = append(out, n)
	}
	return out, nil
}

// resolveTools turns the tools into absolute paths, reporting every one
// that is missing.
func (o *stormOptions) resolveTools() error {
	var errs []error
	for _, t := range []struct {
		dst  *string
		name string
	}{{&o.Phoneprov, "phoneprov"}, {&o.Phonesim, "phonesim"}, {&o.Dnsmasq, "dnsmasq"}, {&o.Nginx, "nginx"}, {&o.TFTPD, "in.tftpd"}} {
		p, err := lookTool(*t.dst, t.name)
		if err != nil {
			errs = append(errs, err)
		}
		*t.dst = p
	}
	return errors.Join(errs...)
}

// splitComma yields the trimmed, non-empty pieces of a comma list.
func splitComma(s string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for p := range strings.SplitSeq(s, ",") {
			if p = strings.TrimSpace(p); p != "" && !yield(p) {
				return
			}
		}
	}
}
