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
	"strings"
	"time"
)

// options is the parsed command line.
type options struct {
	Phoneprov  string // tools; resolved to absolute paths by resolveTools
	Baseline   string // an earlier phoneprov build, run as "phoneprov-base"; "" for none
	Kea        string
	Dnsmasq    string
	Perfdhcp   string
	Strace     string // "" when absent: durability is then not traced
	Out        string
	WorkDir    string   // parent of the servers' temporary directory
	Servers    []string // names, in the first round's order
	Rounds     int
	Period     time.Duration // perfdhcp -p of each search trial
	Clients    int           // perfdhcp -R of each search trial
	StartRate  int
	MinRate    int
	MaxRate    int
	Bisect     int
	MaxTrials  int
	Retries    int           // extra attempts at a failing rate, each on a fresh server
	Budget     time.Duration // search time per server and round
	MaxLoss    float64       // fraction of DORAs that may fail, 0.01 for 1 %
	HoldLeases int           // leases to hold for the memory figure
	HoldTime   time.Duration // bound on filling them
	Settle     time.Duration // idle wait before reading memory while holding
	KeaThreads int           // thread-pool size of kea-mt
	Pprof      time.Duration // phoneprov CPU profile length under load; 0 for none
	// RebootClients is the size of the mass reboot (0: none); RebootLimit
	// bounds it.
	RebootClients int
	RebootLimit   time.Duration
	Pair          bool // the hot-standby pair benchmark (pair.go) instead of the servers
	// Paced adds a second rate search per server with dhcpbench's own
	// paced clients (paced.go).
	Paced bool
	// PerfdhcpRcvbuf is the receive buffer, in bytes, perfdhcp's sockets
	// are given (rcvbuf.go); 0 leaves the kernel's default.
	PerfdhcpRcvbuf int
	plan           plan
	Args           []string // the command line, for the report
}

// serverNames is what -servers may list, in the default order.
func serverNames() []string { return []string{"phoneprov", "kea", "kea-mt", "dnsmasq"} }

// baselineName is the server that runs the -baseline build.
const baselineName = "phoneprov-base"

// parseOptions parses args (without the program name).
func parseOptions(args []string, stderr io.Writer) (options, error) {
	o := options{plan: defaultPlan(), Args: args}
	fs := flag.NewFlagSet("dhcpbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: dhcpbench -phoneprov BIN [-out DIR] [options]\n\n"+
			"Runs perfdhcp against phoneprov, Kea and dnsmasq in one pair of network\n"+
			"namespaces (198.18.0.0/16) and reports the highest DORA rate each sustains\n"+
			"with under 1 % loss, CPU, memory, and whether leases are durable before the ACK.\n"+
			"Needs root.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.Phoneprov, "phoneprov", "bin/phoneprov", "phoneprov `binary` to measure")
	fs.StringVar(&o.Baseline, "baseline", "", "an earlier phoneprov `binary` to measure beside -phoneprov, under the same load, as the server \""+baselineName+"\" (listed first in -servers unless -servers says otherwise)")
	fs.StringVar(&o.Kea, "kea", "kea-dhcp4", "kea-dhcp4 `binary` (Debian: kea-dhcp4-server)")
	fs.StringVar(&o.Dnsmasq, "dnsmasq", "dnsmasq", "dnsmasq `binary`")
	fs.StringVar(&o.Perfdhcp, "perfdhcp", "/usr/sbin/perfdhcp", "perfdhcp `binary` (Debian: kea-admin)")
	fs.IntVar(&o.PerfdhcpRcvbuf, "perfdhcp-rcvbuf", 4<<20, "receive buffer `bytes` dhcpbench gives perfdhcp's sockets, which perfdhcp cannot set itself (Linux reads back twice as much); 0 leaves the kernel's default, which a burst of answers overflows while perfdhcp waits for a CPU")
	fs.StringVar(&o.Strace, "strace", "strace", "strace `binary` for the durability check; \"\" to skip it")
	fs.StringVar(&o.Out, "out", "bench-results", "`directory` for the Markdown report")
	fs.StringVar(&o.WorkDir, "workdir", os.TempDir(), "`directory` under which the servers keep their leases (not tmpfs: fsync must cost what it costs)")
	servers := fs.String("servers", strings.Join(serverNames(), ","), "comma-separated servers to run, in the first round's order")
	fs.IntVar(&o.Rounds, "rounds", 1, "rounds; each runs every server, the order reversed every other round; the table gives medians")
	fs.DurationVar(&o.Period, "period", 5*time.Second, "length of each perfdhcp trial (whole seconds)")
	fs.IntVar(&o.Clients, "clients", 50000, "simulated clients (perfdhcp -R) in each trial")
	fs.IntVar(&o.StartRate, "start-rate", 1000, "first DORA rate tried, per second")
	fs.IntVar(&o.MinRate, "min-rate", 25, "lowest rate tried")
	fs.IntVar(&o.MaxRate, "max-rate", 128000, "highest rate tried")
	fs.IntVar(&o.Bisect, "bisect", 3, "bisection steps after doubling")
	fs.IntVar(&o.MaxTrials, "max-trials", 12, "rates tried at most per server and round")
	fs.IntVar(&o.Retries, "retries", 1, "extra attempts, each on a fresh server, before a rate counts as failed (other load on the machine causes one-off failures)")
	fs.DurationVar(&o.Budget, "budget", 3*time.Minute, "search time per server and round")
	lossPct := fs.Float64("max-loss", 1, "`percent` of DORAs that may go unanswered for a rate to pass")
	fs.IntVar(&o.HoldLeases, "hold-leases", 50000, "leases to fill each server with for the memory figure; 0 to skip")
	fs.DurationVar(&o.HoldTime, "hold-time", 90*time.Second, "bound on filling them")
	fs.DurationVar(&o.Settle, "settle", 5*time.Second, "idle time after filling before memory is read")
	fs.IntVar(&o.KeaThreads, "kea-threads", 2, "thread-pool size of kea-mt (Kea with multi-threading on; \"kea\" is single-threaded)")
	fs.IntVar(&o.RebootClients, "reboot-clients", 30000, "clients in the mass reboot (all DISCOVER at once, RFC 2131 retransmissions); 0 to skip it")
	fs.DurationVar(&o.RebootLimit, "reboot-limit", 3*time.Minute, "bound on each mass reboot")
	fs.DurationVar(&o.Pprof, "pprof", 0, "take a phoneprov CPU profile of this length under load (and a heap profile) into the artifacts; 0 for none")
	fs.BoolVar(&o.Paced, "paced", true, "also search each server's rate with dhcpbench's own paced clients, which cost less CPU than perfdhcp: the rate each server reaches when the load generator is not the limit")
	fs.BoolVar(&o.Pair, "pair", false, "measure phoneprov alone, a phoneprov pair and a Kea hot-standby pair, and their failover, instead")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dhcpbench: unexpected arguments %q\n", fs.Args())
		fs.Usage()
		return options{}, errors.New("usage")
	}
	o.MaxLoss = *lossPct / 100
	o.Servers = strings.Split(*servers, ",")
	serversSet := false
	fs.Visit(func(f *flag.Flag) { serversSet = serversSet || f.Name == "servers" })
	if o.Baseline != "" && !serversSet {
		o.Servers = append([]string{baselineName}, o.Servers...)
	}
	if err := o.validate(); err != nil {
		fmt.Fprintf(stderr, "dhcpbench: %v\n", err)
		return options{}, err
	}
	return o, nil
}

// validate checks the values that flag parsing cannot.
func (o options) validate() error {
	for _, s := range o.Servers {
		switch {
		case s == baselineName && o.Baseline == "":
			return fmt.Errorf("-servers: %q needs -baseline", s)
		case s != baselineName && !slices.Contains(serverNames(), s):
			return fmt.Errorf("-servers: %q is not one of %s", s, strings.Join(append(serverNames(), baselineName), ", "))
		}
	}
	switch {
	case len(o.Servers) == 0:
		return errors.New("-servers: none given")
	case o.Rounds < 1 || o.Rounds > 9:
		return errors.New("-rounds must be 1..9")
	case o.Period < time.Second || o.Period > 5*time.Minute || o.Period%time.Second != 0:
		return errors.New("-period must be whole seconds, 1s..5m")
	case o.Clients < 1 || o.Clients > o.plan.poolSize():
		return fmt.Errorf("-clients must be 1..%d (the pool size)", o.plan.poolSize())
	case o.MinRate < 1 || o.MaxRate < o.MinRate:
		return errors.New("-min-rate must be at least 1 and at most -max-rate")
	case o.Bisect < 0 || o.MaxTrials < 1 || o.MaxTrials > 50 || o.Retries < 0 || o.Retries > 3:
		return errors.New("-bisect must be at least 0, -max-trials 1..50, -retries 0..3")
	case o.Budget <= 0 || o.Budget > time.Hour:
		return errors.New("-budget must be positive and at most 1h")
	case o.MaxLoss <= 0 || o.MaxLoss >= 1:
		return errors.New("-max-loss must be between 0 and 100 percent")
	case o.HoldLeases < 0 || o.HoldLeases > o.plan.poolSize()*9/10:
		return fmt.Errorf("-hold-leases must be 0..%d (90 %% of the pool)", o.plan.poolSize()*9/10)
	case o.HoldTime <= 0 || o.HoldTime > 30*time.Minute || o.Settle < 0 || o.Settle > time.Minute:
		return errors.New("-hold-time must be positive and at most 30m, -settle 0..1m")
	case o.KeaThreads < 1 || o.KeaThreads > 64:
		return errors.New("-kea-threads must be 1..64")
	case o.RebootClients < 0 || o.RebootClients > o.plan.poolSize()*9/10:
		return fmt.Errorf("-reboot-clients must be 0..%d (90 %% of the pool)", o.plan.poolSize()*9/10)
	case o.RebootLimit <= 0 || o.RebootLimit > 30*time.Minute:
		return errors.New("-reboot-limit must be positive and at most 30m")
	case o.PerfdhcpRcvbuf < 0 || o.PerfdhcpRcvbuf > 256<<20:
		return errors.New("-perfdhcp-rcvbuf must be 0..268435456 bytes")
	case o.Pprof < 0 || o.Pprof > time.Minute || o.Pprof%time.Second != 0:
		return errors.New("-pprof must be whole seconds, 0..1m")
	}
	return o.plan.validate()
}

// resolveTools turns every tool name into an absolute path, or says which
// are missing and which Debian package has them.
func (o *options) resolveTools() error {
	var missing []string
	tools := []struct {
		path   *string
		pkg    string
		needed bool
	}{
		{&o.Phoneprov, "`make build`", true},
		{&o.Baseline, "an earlier `make build`", o.Baseline != ""},
		{&o.Perfdhcp, "kea-admin", true},
		{&o.Kea, "kea-dhcp4-server", slices.Contains(o.Servers, "kea") || slices.Contains(o.Servers, "kea-mt")},
		{&o.Dnsmasq, "dnsmasq", slices.Contains(o.Servers, "dnsmasq")},
		{&o.Strace, "strace", false},
	}
	for _, t := range tools {
		if *t.path == "" {
			continue
		}
		p, err := exec.LookPath(*t.path)
		if err == nil {
			p, err = filepath.Abs(p)
		}
		switch {
		case err == nil:
			*t.path = p
		case t.needed:
			missing = append(missing, fmt.Sprintf("%s (%s)", *t.path, t.pkg))
		default:
			*t.path = "" // optional: its step is skipped and the report says so
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not found: %s; `bash deploy/dev/install-test-packages.sh --bench` installs the packages", strings.Join(missing, ", "))
	}
	return nil
}

// order returns the servers in round r's order (0-based): as given in even
// rounds, reversed in odd ones, so no server always goes first.
func (o options) order(r int) []string {
	s := slices.Clone(o.Servers)
	if r%2 == 1 {
		slices.Reverse(s)
	}
	return s
}
