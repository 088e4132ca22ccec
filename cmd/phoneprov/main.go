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

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/appliance"
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

// command is one parsed command line: the configuration it names, loaded,
// and its positional arguments.
type command struct {
	cfgPath string // "" for the built-in defaults
	cfg     config.Config
	args    []string
}

// parseCommand parses "-c FILE" plus a command's own flags (define may be
// nil), with at most maxArgs positional arguments before or after the
// flags, and loads the configuration.
func parseCommand(name string, args []string, stderr io.Writer, maxArgs int, define func(*flag.FlagSet)) (command, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "configuration file (TOML); none: built-in defaults")
	if define != nil {
		define(fs)
	}
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return command{}, errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(rest) > maxArgs {
		fmt.Fprintf(stderr, "phoneprov %s: unexpected argument %q\n", name, rest[maxArgs])
		return command{}, errUsage
	}
	cfg, err := config.Load(*path)
	return command{cfgPath: *path, cfg: cfg, args: rest}, err
}

// cmdServe runs the appliance until SIGINT or SIGTERM, or a part fails.
func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	c, err := parseCommand("serve", args, stderr, 0, nil)
	if err != nil {
		return err
	}
	return appliance.Serve(ctx, c.cfg, appliance.Options{ConfigPath: c.cfgPath, Log: newLogger(c.cfg.Log, stderr), Version: versionString()})
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

func newLogger(c config.LogConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
