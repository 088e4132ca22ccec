package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning"
	"github.com/phoneprov/phoneprov/provisioning/firmware"
	"github.com/phoneprov/phoneprov/provisioning/inventory"
	"github.com/phoneprov/phoneprov/provisioning/script"
)

// commandFlags parses "-c FILE" plus a command's own flags; positional
// arguments may come before or after the flags.
func commandFlags(name string, args []string, stderr io.Writer, define func(*flag.FlagSet)) (cfgPath string, rest []string, err error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "configuration file (TOML); none: built-in defaults")
	if define != nil {
		define(fs)
	}
	for {
		if err := fs.Parse(args); err != nil {
			return "", nil, errUsage
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	return *path, rest, nil
}

// cmdRender prints exactly what a phone asking for NAME would receive.
func cmdRender(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var mac, ip string
	path, rest, err := commandFlags("render", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&mac, "mac", "", "the phone's MAC: renders its per-phone file when NAME is left out")
		fs.StringVar(&ip, "ip", "", "the appliance address the phone talks to (HTTPSRVR, TLSSRVR, BRURI); default: this box's first address")
	})
	if err != nil {
		return err
	}
	name := ""
	switch {
	case len(rest) == 1:
		name = rest[0]
	case len(rest) == 0 && mac != "":
		if name, err = provisioning.PhoneFileName(mac); err != nil {
			return err
		}
	default:
		fmt.Fprintln(stderr, "usage: phoneprov render [-c FILE] [--ip ADDR] NAME | --mac MAC")
		return errUsage
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	local, err := renderAddress(ip)
	if err != nil {
		return err
	}
	gen, err := newGenerator(cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), nil)
	if err != nil {
		return err
	}
	r, err := gen.Render(ctx, name, fileserve.Client{Local: local, Protocol: "https"})
	if errors.Is(err, fileserve.ErrNotFound) {
		return fmt.Errorf("%s: a phone asking for it gets not found (no file in %s, and phoneprov makes none by that name)", name, cfg.filesDir())
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "# %s (%s, %d bytes, as served to a phone talking to %s)\n", r.Name, r.Source, len(r.Data), local)
	_, err = stdout.Write(r.Data)
	return err
}

// renderAddress is the address render pretends the phone talked to.
func renderAddress(flagValue string) (netip.Addr, error) {
	if flagValue != "" {
		a, err := netip.ParseAddr(flagValue)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("--ip %q is not an IP address", flagValue)
		}
		return a, nil
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
			addr, _ := netip.AddrFromSlice(ipn.IP.To4())
			return addr, nil
		}
	}
	return netip.MustParseAddr("127.0.0.1"), nil
}

// lintFiles checks the operator's scripts and the generated ones for
// `phoneprov check`; it reports whether any finding is an error.
func lintFiles(ctx context.Context, cfg Config, stdout io.Writer) (bool, error) {
	if fi, err := os.Stat(cfg.filesDir()); err != nil || !fi.IsDir() {
		fmt.Fprintf(stdout, "# file tree %s not found: scripts not checked\n", cfg.filesDir())
		return false, nil
	}
	gen, err := newGenerator(cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return false, err
	}
	findings, err := gen.Check(ctx)
	if err != nil {
		return false, err
	}
	failed := false
	for _, f := range findings {
		fmt.Fprintf(stdout, "# %s\n", f)
		failed = failed || f.Severity == script.Error
	}
	if len(findings) == 0 {
		fmt.Fprintf(stdout, "# scripts in %s: no problems found\n", cfg.filesDir())
	}
	return failed, nil
}

// cmdImport brings a vendor firmware bundle into the file tree.
func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var scripts bool
	path, rest, err := commandFlags("import", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&scripts, "scripts", false, "also install the bundle's own upgrade scripts (by default phoneprov generates them)")
	})
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		fmt.Fprintln(stderr, "usage: phoneprov import [-c FILE] [--scripts] BUNDLE.zip|DIR")
		return errUsage
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	rep, err := firmware.ImportWith(ctx, rest[0], cfg.filesDir(), firmware.ImportOptions{InstallScripts: scripts})
	if err != nil {
		return err
	}
	return rep.WriteText(stdout)
}

// cmdPhones lists the inventory: from the running appliance's admin API
// when it answers, else from inventory.jsonl.
func cmdPhones(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	var f inventory.Filter
	var state string
	path, rest, err := commandFlags("phones", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
		fs.StringVar(&f.Model, "model", "", "only this model (J179, 9608, …)")
		fs.StringVar(&f.Firmware, "firmware", "", "only this firmware version")
		fs.StringVar(&state, "state", "", "only this state: "+joinStates())
		fs.StringVar(&f.Text, "search", "", "only phones whose MAC, address, host name, model or User-Agent contains this")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errUsage
	}
	f.State = inventory.State(state)
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	phones, err := phonesFromAPI(ctx, cfg, f)
	if err != nil {
		if phones, err = phonesFromFile(cfg, f); err != nil {
			return err
		}
	}
	if asJSON {
		return encodeJSON(stdout, phones)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MAC\tADDRESS\tMODEL\tFIRMWARE\tSTATE\tLAST SEEN\tLAST FILE")
	for _, p := range phones {
		addr, last := "-", "-"
		if len(p.Addrs) > 0 {
			addr = p.Addrs[0].Addr.String()
		}
		if n := len(p.Files); n > 0 {
			last = fmt.Sprintf("%s %s %d", p.Files[n-1].Protocol, p.Files[n-1].Name, p.Files[n-1].Status)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.MAC, addr, dash(p.Model), dash(p.Firmware), p.State,
			p.LastSeen.Local().Format(time.DateTime), last)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinStates() string {
	var s []string
	for _, st := range inventory.AllStates() {
		s = append(s, string(st))
	}
	return strings.Join(s, ", ")
}

func phonesFromAPI(ctx context.Context, cfg Config, f inventory.Filter) ([]inventory.Phone, error) {
	q := make(url.Values)
	for k, v := range map[string]string{"model": f.Model, "firmware": f.Firmware, "state": string(f.State), "q": f.Text} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var phones []inventory.Phone
	err := getAdminJSON(ctx, cfg, "/api/phones?"+q.Encode(), &phones)
	return phones, err
}

func phonesFromFile(cfg Config, f inventory.Filter) ([]inventory.Phone, error) {
	inv, err := inventory.Open(cfg.Provisioning.Inventory, inventory.Options{Path: filepath.Join(cfg.DataDir, "inventory.jsonl")})
	if err != nil {
		return nil, fmt.Errorf("phones: the appliance's admin API did not answer and %w", err)
	}
	defer inv.Close()
	return inv.List(f), nil
}
