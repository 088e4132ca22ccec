// Command phoneprov is the phone provisioning appliance: a file server for
// HTTPS, HTTP and TFTP (and, as its issues land, DHCP and provisioning).
//
//	phoneprov serve [-c FILE]    run the appliance
//	phoneprov check [-c FILE]    validate a configuration and print it in full
//	phoneprov init DIR           write an example configuration and a data directory
//	phoneprov render NAME        print what a phone asking for NAME receives
//	phoneprov import BUNDLE      bring a firmware bundle into the file tree
//	phoneprov phones             list the phones seen
//	phoneprov leases             list the DHCP leases
//	phoneprov version            print the build
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
)

const usage = `usage: phoneprov COMMAND [options]

commands:
  serve [-c FILE]   run the appliance (no -c: built-in defaults)
  check [-c FILE]   validate the configuration and print the effective one
  init DIR          write DIR/phoneprov.toml (commented example) and an empty data directory
  render [-c FILE] [--ip A] NAME | --mac M
                    print exactly what a phone asking for NAME receives
  import [-c FILE] [--scripts] BUNDLE
                    bring a firmware bundle (.zip or folder) into the file tree, atomically
  phones [-c FILE] [--json] [--model M] [--firmware V] [--state S] [--search T]
                    the phones seen: MAC, address, model, firmware, state
  leases [-c FILE] [--json]
                    the DHCP leases: address, MAC, state, class, host name, vendor class, expiry
  version           print the build
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks a command line that could not be understood (exit 2).
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stderr)
	case "check":
		err = cmdCheck(args[1:], stdout, stderr)
	case "init":
		err = cmdInit(args[1:], stdout, stderr)
	case "render":
		err = cmdRender(ctx, args[1:], stdout, stderr)
	case "import":
		err = cmdImport(ctx, args[1:], stdout, stderr)
	case "phones":
		err = cmdPhones(ctx, args[1:], stdout, stderr)
	case "leases":
		err = cmdLeases(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, versionString())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "phoneprov: unknown command %q\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp):
		return 2
	default:
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			fmt.Fprintf(stderr, "phoneprov %s: problems found:\n%s\n", args[0], msg)
		} else {
			fmt.Fprintf(stderr, "phoneprov %s: %s\n", args[0], msg)
		}
		return 1
	}
}

func configFlag(name string, args []string, stderr io.Writer) (string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "configuration file (TOML); none: built-in defaults")
	if err := fs.Parse(args); err != nil {
		return "", errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "phoneprov %s: unexpected argument %q\n", name, fs.Arg(0))
		return "", errUsage
	}
	return *path, nil
}

func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "phoneprov (unknown build)"
	}
	parts := []string{"phoneprov", bi.Main.Version}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			parts = append(parts, "rev "+s.Value[:min(12, len(s.Value))])
		case "vcs.modified":
			if s.Value == "true" {
				parts = append(parts, "(modified)")
			}
		}
	}
	return strings.Join(append(parts, bi.GoVersion), " ")
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q is not one of debug, info, warn, error", s)
	}
	return l, nil
}

func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	level, _ := parseLevel(c.Level) // validated at load
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
