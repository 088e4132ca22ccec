// Command phoneprov is the phone provisioning appliance: a file server for
// HTTPS, HTTP and TFTP, a DHCPv4 server, and the provisioning around them.
//
//	phoneprov serve [-c FILE]    run the appliance
//	phoneprov check [-c FILE]    validate a configuration and print it in full
//	phoneprov init DIR           write an example configuration and a data directory
//	phoneprov render NAME        print what a phone asking for NAME receives
//	phoneprov import BUNDLE      bring a firmware bundle into the file tree
//	phoneprov phones             list the phones seen
//	phoneprov leases             list the DHCP leases
//	phoneprov version            print the version and commit
//
// Without -c, commands read /etc/phoneprov/phoneprov.toml when it exists,
// else the built-in defaults, and say which.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/internal/logging"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/appliance"
)

const usage = `usage: phoneprov COMMAND [options]

Without -c FILE, a command reads ` + config.PackagedPath + ` when it exists,
else it uses the built-in defaults, and says which.

commands:
  serve [-c FILE]   run the appliance
  check [-c FILE]   validate the configuration and print the effective one
  init DIR          write DIR/phoneprov.toml (commented example) and an empty data directory
  render [-c FILE] [--ip A] NAME | --mac M
                    print exactly what a phone asking for NAME receives
  import [-c FILE] [--scripts] BUNDLE
                    bring a firmware bundle (.zip or folder) into the file tree, atomically
  phones [-c FILE] [--json] [--model M] [--firmware V] [--state S] [--search T]
                    the phones seen: MAC, address, model, firmware, state
  leases [-c FILE] [--json | --csv] [--mac M] [--state S]
                    the DHCP leases: address, MAC, state, class, host name, vendor class, expiry
  rollout [-c FILE] start|status|pause|resume|abort|finish …
                    firmware roll-outs in waves, with a brake
  version           print the version and commit
  help [COMMAND]    print this, or a command's usage

phoneprov COMMAND --help (or -h) prints that command's usage and options.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command line, as main runs it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return env{stdout: stdout, stderr: stderr, packaged: config.PackagedPath, loc: time.Local}.run(ctx, args)
}

// env is what a command works with besides its arguments.
type env struct {
	stdout, stderr io.Writer
	// packaged is the configuration read without -c when it exists:
	// config.PackagedPath, elsewhere in tests.
	packaged string
	// loc is the time zone times are shown in (time.Local).
	loc *time.Location
}

// errUsage marks a command line that could not be understood (exit 2);
// errHelp one that asked for help, which was printed (exit 0).
var (
	errUsage = errors.New("usage")
	errHelp  = errors.New("help printed")
)

func (e env) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = e.cmdServe(ctx, args[1:])
	case "check":
		err = e.cmdCheck(args[1:])
	case "init":
		err = e.cmdInit(args[1:])
	case "render":
		err = e.cmdRender(ctx, args[1:])
	case "import":
		err = e.cmdImport(ctx, args[1:])
	case "phones":
		err = e.cmdPhones(ctx, args[1:])
	case "leases":
		err = e.cmdLeases(ctx, args[1:])
	case "rollout":
		err = e.cmdRollout(ctx, args[1:])
	case "version", "--version", "-v":
		err = e.cmdVersion(args[1:])
	case "help", "-h", "--help":
		err = e.cmdHelp(ctx, args[1:])
	default:
		fmt.Fprintf(e.stderr, "phoneprov: unknown command %q\n%s", args[0], usage)
		return 2
	}
	return e.exitCode(args[0], err)
}

func (e env) exitCode(name string, err error) int {
	switch {
	case err == nil || errors.Is(err, errHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		fmt.Fprintf(e.stderr, "phoneprov %s: problems found:\n%s\n", name, msg)
	} else {
		fmt.Fprintf(e.stderr, "phoneprov %s: %s\n", name, msg)
	}
	return 1
}

// cmdHelp prints the usage, or with a command's name that command's.
func (e env) cmdHelp(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stdout, usage)
		return nil
	}
	if _, ok := helpFor(args[0]); !ok {
		fmt.Fprintf(e.stderr, "phoneprov help: unknown command %q\n%s", args[0], usage)
		return errUsage
	}
	e.run(ctx, []string{args[0], "--help"})
	return nil
}

// cmdVersion prints the build: its version and commit.
func (e env) cmdVersion(args []string) error {
	if _, err := e.flags("version", args, 0, nil); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, versionString())
	return nil
}

// command is one parsed command line: the configuration it names, loaded,
// and its positional arguments.
type command struct {
	cfgPath string // "" for the built-in defaults
	// chosen says which configuration was taken when no -c was given,
	// like "/etc/phoneprov/phoneprov.toml (no -c given)"; "" with -c.
	chosen string
	cfg    config.Config
	args   []string
}

// parseCommand parses "-c FILE" plus a command's own flags (define may be
// nil), with at most maxArgs positional arguments, and loads the
// configuration: -c FILE, else e.packaged when it exists, else the
// built-in defaults.
func (e env) parseCommand(name string, args []string, maxArgs int, define func(*flag.FlagSet)) (command, error) {
	var path string
	rest, err := e.flags(name, args, maxArgs, func(fs *flag.FlagSet) {
		fs.StringVar(&path, "c", "", "configuration `FILE` (TOML); without it "+config.PackagedPath+" when it exists, else the built-in defaults")
		if define != nil {
			define(fs)
		}
	})
	if err != nil {
		return command{}, err
	}
	c := command{cfgPath: path, args: rest}
	if path == "" {
		c.cfgPath, c.chosen = e.defaultConfig()
	}
	c.cfg, err = config.Load(c.cfgPath)
	return c, err
}

// defaultConfig is the configuration without -c: the packaged file when it
// exists (or cannot be looked at: then loading it says why), else none.
func (e env) defaultConfig() (path, chosen string) {
	if _, err := os.Stat(e.packaged); err != nil && errors.Is(err, os.ErrNotExist) {
		return "", "built-in defaults (no -c given, and no " + e.packaged + ")"
	}
	return e.packaged, e.packaged + " (no -c given)"
}

// sayConfig tells the operator which configuration a command took, on
// stderr, when it was not named with -c.
func (e env) sayConfig(name string, c command) {
	if c.chosen != "" {
		fmt.Fprintf(e.stderr, "phoneprov %s: configuration: %s\n", name, c.chosen)
	}
}

// cmdServe runs the appliance until SIGINT or SIGTERM, or a part fails.
// Its start line in the log names the configuration.
func (e env) cmdServe(ctx context.Context, args []string) error {
	c, err := e.parseCommand("serve", args, 0, nil)
	if err != nil {
		return err
	}
	v, rev, _ := resolveVersion()
	return appliance.Serve(ctx, c.cfg, appliance.Options{ConfigPath: c.cfgPath, Log: logging.New(c.cfg.Log, e.stderr, os.Getenv("JOURNAL_STREAM")), Version: v, Revision: rev})
}
