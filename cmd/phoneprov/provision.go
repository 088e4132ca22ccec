package main

import (
	"cmp"
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
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/admin"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/appliance"
	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning"
	"github.com/phoneprov/phoneprov/provisioning/firmware"
	"github.com/phoneprov/phoneprov/provisioning/inventory"
	"github.com/phoneprov/phoneprov/provisioning/rollout"
	"github.com/phoneprov/phoneprov/provisioning/script"
)

// cmdRender prints exactly what a phone asking for NAME would receive.
func (e env) cmdRender(ctx context.Context, args []string) error {
	stdout, stderr := e.stdout, e.stderr
	var mac, ip string
	c, err := e.parseCommand("render", args, 1, func(fs *flag.FlagSet) {
		fs.StringVar(&mac, "mac", "", "the phone's MAC: renders its per-phone file when NAME is left out")
		fs.StringVar(&ip, "ip", "", "the appliance address the phone talks to (HTTPSRVR, TLSSRVR, BRURI); default: this box's first address")
	})
	if err != nil {
		return err
	}
	e.sayConfig("render", c)
	name := ""
	switch {
	case len(c.args) == 1:
		name = c.args[0]
	case len(c.args) == 0 && mac != "":
		if name, err = provisioning.PhoneFileName(mac); err != nil {
			return err
		}
	default:
		fmt.Fprintln(stderr, "usage: phoneprov render [-c FILE] [--ip ADDR] NAME | --mac MAC")
		return errUsage
	}
	local, err := renderAddress(ip)
	if err != nil {
		return err
	}
	gen, err := appliance.NewGenerator(c.cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), nil, nil)
	if err != nil {
		return err
	}
	// The roll-outs and the held firmware as the appliance left them:
	// the plan for the phone with mac, or for phones outside every wave.
	st, err := rollout.ReadState(c.cfg.RolloutsDir())
	if err != nil {
		return err
	}
	gen.SetRollouts(rollout.NewOffline(st, c.cfg.Provisioning.Rollout.HoldNewFirmware))
	r, err := gen.Render(ctx, name, fileserve.Client{Local: local, Protocol: "https"}, mac)
	if errors.Is(err, fileserve.ErrNotFound) {
		return fmt.Errorf("%s: a phone asking for it gets not found (no file in %s, and phoneprov makes none by that name)", name, c.cfg.FilesDir())
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
func lintFiles(ctx context.Context, cfg config.Config, stdout io.Writer) (bool, error) {
	if fi, err := os.Stat(cfg.FilesDir()); err != nil || !fi.IsDir() {
		fmt.Fprintf(stdout, "# file tree %s not found: scripts not checked\n", cfg.FilesDir())
		return false, nil
	}
	gen, err := appliance.NewGenerator(cfg, slog.New(slog.DiscardHandler), nil, nil)
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
		fmt.Fprintf(stdout, "# scripts in %s: no problems found\n", cfg.FilesDir())
	}
	return failed, nil
}

// cmdImport brings a vendor firmware bundle into the file tree.
func (e env) cmdImport(ctx context.Context, args []string) error {
	stdout, stderr := e.stdout, e.stderr
	var scripts bool
	c, err := e.parseCommand("import", args, 1, func(fs *flag.FlagSet) {
		fs.BoolVar(&scripts, "scripts", false, "also install the bundle's own upgrade scripts (by default phoneprov generates them)")
	})
	if err != nil {
		return err
	}
	e.sayConfig("import", c)
	if len(c.args) != 1 {
		fmt.Fprintln(stderr, "usage: phoneprov import [-c FILE] [--scripts] BUNDLE.zip|DIR")
		return errUsage
	}
	rep, err := firmware.ImportWith(ctx, c.args[0], c.cfg.FilesDir(), firmware.ImportOptions{InstallScripts: scripts})
	if err != nil {
		return err
	}
	return rep.WriteText(stdout)
}

// cmdPhones lists the inventory: from the running appliance's admin API
// when its admin listener belongs to this configuration, else from
// its journal file.
func (e env) cmdPhones(ctx context.Context, args []string) error {
	var asJSON bool
	var f inventory.Filter
	var state string
	c, err := e.parseCommand("phones", args, 0, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON (the admin API's /api/phones)")
		fs.StringVar(&f.Model, "model", "", "only this `MODEL` (J179, 9608, …)")
		fs.StringVar(&f.Firmware, "firmware", "", "only this firmware `VERSION`")
		fs.StringVar(&state, "state", "", "only this `STATE`: "+strings.Join(stateNames(), ", "))
		fs.StringVar(&f.Text, "search", "", "only phones whose MAC, address, host name, model or User-Agent contains this `TEXT`")
	})
	if err != nil {
		return err
	}
	if state != "" && !slices.Contains(stateNames(), state) {
		return e.badValue("phones", "state", state, stateNames())
	}
	f.State = inventory.State(state)
	e.sayConfig("phones", c)
	src := findSource(c.cfg)
	var phones []inventory.Phone
	if src.running {
		phones, err = phonesFromAPI(ctx, c.cfg, f)
		if err != nil {
			return fmt.Errorf("%s, but its admin API did not answer: %w", src, err)
		}
	} else if phones, err = phonesFromFile(c.cfg, f); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "phoneprov phones: from %s\n", src)
	if asJSON {
		return admin.EncodeJSON(e.stdout, phones)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MAC\tADDRESS\tMODEL\tFIRMWARE\tSTATE\tLAST SEEN\tLAST FILE")
	for _, p := range phones {
		addr, last := "-", "-"
		if len(p.Addrs) > 0 {
			addr = p.Addrs[0].Addr.String()
		}
		if n := len(p.Files); n > 0 {
			last = fmt.Sprintf("%s %s %d", p.Files[n-1].Protocol, p.Files[n-1].Name, p.Files[n-1].Status)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.MAC, addr, cmp.Or(p.Model, "-"), cmp.Or(p.Firmware, "-"), p.State,
			e.clock(p.LastSeen), last)
	}
	return tw.Flush()
}

// stateNames are the inventory's states, as --state takes them.
func stateNames() []string {
	var s []string
	for _, st := range inventory.AllStates() {
		s = append(s, string(st))
	}
	return s
}

func phonesFromAPI(ctx context.Context, cfg config.Config, f inventory.Filter) ([]inventory.Phone, error) {
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

func phonesFromFile(cfg config.Config, f inventory.Filter) ([]inventory.Phone, error) {
	inv, err := inventory.Open(cfg.Provisioning.Inventory, inventory.Options{Path: cfg.InventoryPath(), EarlierPath: cfg.EarlierInventoryPath()})
	if err != nil {
		return nil, fmt.Errorf("phones: %w", err)
	}
	defer inv.Close()
	return inv.List(f), nil
}
