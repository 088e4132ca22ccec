package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// options is the parsed command line.
type options struct {
	Phoneprov   string // phoneprov binary
	Out         string // report directory
	Duration    time.Duration
	Warmup      time.Duration
	Settle      time.Duration
	Rounds      int
	Only        map[string]bool // "http", "https", "tftp", "tftp-loss"
	Quick       bool
	Twin        bool     // -twin: every HTTP(S) point also between nginx and an identical nginx
	Conns       []int    // HTTP(S): wrk connection counts, each for both files
	Keys        []string // HTTPS: certificate key types (keyECDSA, keyRSA); HTTP runs with the first
	TFTPClients []int
	// ATFTPClients and HPAClients are the counts of atftp (blksize 1428)
	// and tftp-hpa (512-byte blocks) client programs at a time.
	ATFTPClients []int
	HPAClients   []int
	LossSize     int64  // tftp-loss: bytes of the file
	LossATFTP    int    // tftp-loss: atftp downloads per server
	LossHPA      int    // tftp-loss: tftp-hpa downloads per server
	Nginx        string // tools, resolved to paths by resolveTools
	TFTPD        string
	Wrk          string
	CommandLine  string // as given, for the report
}

// protocolList is the scenario groups -only can name.
const protocolList = "http,https,tftp,tftp-loss"

// parseOptions parses args (without the program name).
func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("phonebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: phonebench -phoneprov BIN [-out DIR] [options]\n\n"+
			"Runs the same file-serving load against phoneprov and nginx (HTTP, HTTPS)\n"+
			"and tftpd-hpa (TFTP), all on 127.0.0.1, and reports the ratios.\n\n"+
			"tftp-loss compares completed TFTP downloads from phoneprov and tftpd-hpa over a\n"+
			"link that drops 10 % of UDP each way (network namespaces; root, nft, tftp-hpa,\n"+
			"atftp). Only that scenario:\n"+
			"  go run ./cmd/phonebench -only tftp-loss -phoneprov bin/phoneprov\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Phoneprov, "phoneprov", "bin/phoneprov", "phoneprov `binary` to measure")
	fs.StringVar(&o.Out, "out", "bench-results", "`directory` for the Markdown report")
	fs.DurationVar(&o.Duration, "duration", 5*time.Second, "length of each measured run (wrk rounds it to whole seconds)")
	fs.DurationVar(&o.Warmup, "warmup", time.Second, "unmeasured run against each server before a scenario; 0 for none")
	fs.DurationVar(&o.Settle, "settle", 500*time.Millisecond, "pause between runs")
	fs.IntVar(&o.Rounds, "rounds", 1, "runs per server and scenario, alternating who goes first; the report gives medians")
	only := fs.String("only", protocolList, "comma-separated subset of "+protocolList)
	fs.BoolVar(&o.Twin, "twin", false, "also run every HTTP(S) point between nginx and a second, identical nginx (an A/A run: what ratio two equal servers get on this machine); doubles the HTTP(S) time")
	fs.BoolVar(&o.Quick, "quick", false, "smoke run: 1s runs, no warm-up (unless -duration/-warmup are given)")
	conns := fs.String("conns", "1,8,32,64,128,256", "comma-separated wrk connection counts, each run for the 10 MiB and the 2 KiB file")
	keys := fs.String("keys", keyList, "comma-separated HTTPS certificate key types, each given to both servers: "+keyECDSA+" (P-256), "+keyRSA+" (2048 bits); HTTP runs once, on the first")
	clients := fs.String("tftp-clients", "1,20,100", "comma-separated concurrent TFTP client counts")
	atftpClients := fs.String("atftp-clients", "1,20,100", "comma-separated counts of atftp programs (blksize 1428) at a time; \"\" for none")
	hpaClients := fs.String("hpa-clients", "100", "comma-separated counts of tftp-hpa tftp programs (512-byte blocks) at a time; \"\" for none")
	lossKiB := fs.Int("loss-kib", 1024, "tftp-loss: file size in KiB")
	fs.IntVar(&o.LossATFTP, "loss-atftp", 50, "tftp-loss: atftp downloads (blksize 1428) per server")
	fs.IntVar(&o.LossHPA, "loss-hpa", 100, "tftp-loss: tftp-hpa downloads (512-byte blocks) per server")
	fs.StringVar(&o.Nginx, "nginx", "", "nginx `binary` (default: from PATH or /usr/sbin)")
	fs.StringVar(&o.TFTPD, "tftpd", "", "in.tftpd `binary` (default: from PATH or /usr/sbin)")
	fs.StringVar(&o.Wrk, "wrk", "", "wrk `binary` (default: from PATH)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.Quick {
		if !set["duration"] {
			o.Duration = time.Second
		}
		if !set["warmup"] {
			o.Warmup = 0
		}
	}
	var err error
	if o.Only, err = parseOnly(*only); err != nil {
		return options{}, usageError(fs, "-only: %v", err)
	}
	if o.TFTPClients, err = parseCounts(*clients); err != nil {
		return options{}, usageError(fs, "-tftp-clients: %v", err)
	}
	if o.Conns, err = parseCounts(*conns); err != nil {
		return options{}, usageError(fs, "-conns: %v", err)
	}
	if o.Keys, err = parseKeys(*keys); err != nil {
		return options{}, usageError(fs, "-keys: %v", err)
	}
	for _, c := range []struct {
		flag, value string
		dst         *[]int
	}{{"atftp-clients", *atftpClients, &o.ATFTPClients}, {"hpa-clients", *hpaClients, &o.HPAClients}} {
		if strings.TrimSpace(c.value) == "" {
			continue
		}
		if *c.dst, err = parseCounts(c.value); err != nil {
			return options{}, usageError(fs, "-%s: %v", c.flag, err)
		}
	}
	switch {
	case o.Duration < time.Second:
		return options{}, usageError(fs, "-duration must be at least 1s")
	case o.Rounds < 1 || o.Rounds > 100:
		return options{}, usageError(fs, "-rounds must be 1..100")
	case o.Warmup < 0 || o.Settle < 0:
		return options{}, usageError(fs, "-warmup and -settle must not be negative")
	case *lossKiB < 1 || *lossKiB > 64<<10:
		return options{}, usageError(fs, "-loss-kib must be 1..65536")
	case o.LossATFTP < 0 || o.LossATFTP > 500 || o.LossHPA < 0 || o.LossHPA > 500 || o.LossATFTP+o.LossHPA == 0:
		return options{}, usageError(fs, "-loss-atftp and -loss-hpa must be 0..500, not both 0")
	}
	o.LossSize = int64(*lossKiB) << 10
	o.CommandLine = "go run ./cmd/phonebench " + benchkit.ShellJoin(args)
	return o, nil
}

func usageError(fs *flag.FlagSet, format string, a ...any) error {
	err := fmt.Errorf(format, a...)
	fmt.Fprintf(fs.Output(), "phonebench: %v\n", err)
	return err
}

func parseOnly(s string) (map[string]bool, error) {
	out := make(map[string]bool)
	for p := range strings.SplitSeq(s, ",") {
		p = strings.TrimSpace(strings.ToLower(p))
		if !slices.Contains(strings.Split(protocolList, ","), p) {
			return nil, fmt.Errorf("%q is not one of %s", p, protocolList)
		}
		out[p] = true
	}
	return out, nil
}

func parseCounts(s string) ([]int, error) {
	var out []int
	for p := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n < 1 || n > 1000 {
			return nil, fmt.Errorf("%q is not a count from 1 to 1000", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// resolveTools turns the binaries the selected scenarios need into absolute
// paths, and reports every one that is missing.
func (o *options) resolveTools() error {
	var errs []error
	find := func(dst *string, name string, need bool) {
		if !need {
			return
		}
		p, err := lookTool(*dst, name)
		if err != nil {
			errs = append(errs, err)
		}
		*dst = p
	}
	web := o.Only["http"] || o.Only["https"]
	find(&o.Phoneprov, "phoneprov", true)
	find(&o.Nginx, "nginx", web)
	find(&o.Wrk, "wrk", web)
	find(&o.TFTPD, "in.tftpd", o.Only["tftp"] || o.Only[lossID])
	if o.Only[lossID] {
		if err := lossTools(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", lossID, err))
		}
	}
	return errors.Join(errs...)
}

// lookTool finds a binary: the given path if any, else name in PATH, else
// in /usr/sbin (which is not in every user's PATH).
func lookTool(given, name string) (string, error) {
	candidates := []string{given}
	if given == "" {
		candidates = []string{name, filepath.Join("/usr/sbin", name)}
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return filepath.Abs(p)
		}
	}
	if given != "" {
		return "", fmt.Errorf("%s: %s not found or not executable", name, given)
	}
	if _, err := os.Stat(filepath.Join("/usr/sbin", name)); err != nil {
		return "", fmt.Errorf("%s not found in PATH or /usr/sbin (make bench-packages installs it)", name)
	}
	return "", fmt.Errorf("%s: /usr/sbin/%s is not executable", name, name)
}
