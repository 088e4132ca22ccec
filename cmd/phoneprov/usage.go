package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// commandHelp is what `phoneprov COMMAND --help` says above the options.
type commandHelp struct {
	synopsis string // after "usage: phoneprov "
	about    string // what the command does
}

// helpFor is a command's help text; ok is false for an unknown command.
func helpFor(name string) (h commandHelp, ok bool) {
	switch name {
	case "serve":
		return commandHelp{"serve [-c FILE]", `Run the appliance in the foreground until SIGINT or SIGTERM; SIGHUP re-reads
the configuration. Its first log line names the configuration it read.`}, true
	case "check":
		return commandHelp{"check [-c FILE]", `Validate the configuration and print the effective one, every key with its
value (durations in weeks, days, hours, minutes and seconds), the DHCP classes
with their presets expanded, and the scripts' problems. The first line names
the configuration checked.`}, true
	case "init":
		return commandHelp{"init DIR", `Make DIR a data directory (files/, backup/, cache/, tls/) and write
DIR/phoneprov.toml, the commented example configuration with data_dir = DIR.
An existing phoneprov.toml is never overwritten.`}, true
	case "render":
		return commandHelp{"render [-c FILE] [--ip ADDR] NAME | --mac MAC", `Print exactly what a phone asking for NAME receives: a file from the tree, or
the generated upgrade script or settings file.`}, true
	case "import":
		return commandHelp{"import [-c FILE] [--scripts] BUNDLE.zip|DIR", `Bring a firmware bundle (a vendor's .zip or a folder) into the file tree,
atomically: its files appear all at once or not at all.`}, true
	case "phones":
		return commandHelp{"phones [-c FILE] [--json] [--model M] [--firmware V] [--state S] [--search T]", `List the phones seen: MAC, address, model, firmware, state, last seen (with
its time zone) and the last file fetched. They come from the running
appliance when its admin listener belongs to this configuration (the
appliance holding this data directory), else from the inventory file; a line
on stderr says which.`}, true
	case "leases":
		return commandHelp{"leases [-c FILE] [--json | --csv] [--mac MAC] [--state S]", `List the DHCP leases: address, MAC, state, class, host name, vendor class
and expiry (with its time zone). --csv prints Kea's memfile lease file
columns (Kea 3.0 schema). They come from the running appliance when its
admin listener belongs to this configuration (the appliance holding this
data directory), else from the lease journal; a line on stderr says which.`}, true
	case "version":
		return commandHelp{"version", `Print the version and the commit phoneprov was built from.`}, true
	case "rollout", "rollout start", "rollout status", "rollout pause", "rollout resume", "rollout abort", "rollout finish":
		return commandHelp{"rollout [-c FILE] start [--canary N|MAC,MAC…|group:N] [--waves 10%,50%,100%] SERIES|MODEL VERSION\n" +
			"       phoneprov rollout [-c FILE] status | pause|resume|abort|finish [ID]", `Drive the running appliance's firmware roll-outs through its admin API:
start one for a series or a model, see each one's waves and phones per
state, or pause, resume, abort (phones not yet upgraded go back to the
previous firmware) or finish it.`}, true
	}
	return commandHelp{}, false
}

// flags parses a command's options (Go's flag syntax: one dash or two),
// with at most maxArgs positional arguments before or after them. --help
// and -h print the command's usage on stdout and give errHelp; a mistake
// prints it on stderr and gives errUsage.
func (e env) flags(name string, args []string, maxArgs int, define func(*flag.FlagSet)) ([]string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if define != nil {
		define(fs)
	}
	var rest []string
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			printUsage(e.stdout, name, fs)
			return nil, errHelp
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "phoneprov %s: %v\n", name, err)
			printUsage(e.stderr, name, fs)
			return nil, errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(rest) > maxArgs {
		fmt.Fprintf(e.stderr, "phoneprov %s: unexpected argument %q\n", name, rest[maxArgs])
		printUsage(e.stderr, name, fs)
		return nil, errUsage
	}
	return rest, nil
}

// printUsage writes a command's synopsis, what it does, and its options.
func printUsage(w io.Writer, name string, fs *flag.FlagSet) {
	h, _ := helpFor(name)
	fmt.Fprintf(w, "usage: phoneprov %s\n\n%s\n", h.synopsis, h.about)
	var b strings.Builder
	fs.SetOutput(&b)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if b.Len() > 0 {
		fmt.Fprintf(w, "\noptions (one dash or two):\n%s", b.String())
	}
}

// badValue reports a flag value outside the ones a command knows.
func (e env) badValue(name, flagName, value string, known []string) error {
	fmt.Fprintf(e.stderr, "phoneprov %s: --%s %q: not one of %s\n", name, flagName, value, strings.Join(known, ", "))
	return errUsage
}
