package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/admin"
	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// leaseStates are the states --state takes, as leases.State names them.
func leaseStates() []string {
	return []string{leases.Active.String(), leases.Released.String(), leases.Declined.String(), leases.Expired.String()}
}

// cmdLeases lists the DHCP leases: from the running appliance's admin API
// when its admin listener belongs to this configuration, else from
// leases.journal (read-only).
func (e env) cmdLeases(ctx context.Context, args []string) error {
	var asJSON, asCSV bool
	var mac, state string
	c, err := e.parseCommand("leases", args, 0, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON (the admin API's /api/leases)")
		fs.BoolVar(&asCSV, "csv", false, "print CSV with the columns of Kea's memfile lease file (kea-leases4.csv, Kea 3.0)")
		fs.StringVar(&mac, "mac", "", "only the leases of this `MAC` (any of aa:bb:cc:dd:ee:ff, aa-bb-…, aabb.ccdd.eeff)")
		fs.StringVar(&state, "state", "", "only leases in this `STATE`: "+strings.Join(leaseStates(), ", "))
	})
	if err != nil {
		return err
	}
	if asJSON && asCSV {
		fmt.Fprintln(e.stderr, "phoneprov leases: --json or --csv, not both")
		return errUsage
	}
	if state != "" && !slices.Contains(leaseStates(), state) {
		return e.badValue("leases", "state", state, leaseStates())
	}
	if mac != "" {
		hw, err := net.ParseMAC(mac)
		if err != nil {
			fmt.Fprintf(e.stderr, "phoneprov leases: --mac %q is not a MAC address\n", mac)
			return errUsage
		}
		mac = hw.String()
	}
	e.sayConfig("leases", c)
	rows, src, err := e.readLeases(ctx, c.cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "phoneprov leases: from %s\n", src)
	rows = slices.DeleteFunc(rows, func(r leaseRow) bool {
		return (mac != "" && r.MAC != mac) || (state != "" && r.State != state)
	})
	switch {
	case asJSON:
		views := make([]admin.LeaseView, 0, len(rows))
		for _, r := range rows {
			views = append(views, r.LeaseView)
		}
		return admin.EncodeJSON(e.stdout, views)
	case asCSV:
		return writeKeaCSV(e.stdout, rows, c.cfg)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tMAC\tSTATE\tCLASS\tHOST NAME\tVENDOR CLASS\tEXPIRES")
	for _, l := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Address, l.MAC, l.State, cmp.Or(l.Class, "-"), cmp.Or(l.Hostname, "-"),
			cmp.Or(l.VendorClass, "-"), e.clock(l.Expiry))
	}
	return tw.Flush()
}

// leaseRow is a lease as listed: the API's view, and the client identifier
// when it is known (the lease journal has it, the API's view not).
type leaseRow struct {
	admin.LeaseView
	ClientID []byte
}

// readLeases reads the leases from the appliance of this configuration
// when it runs, else from its lease journal, and says which.
func (e env) readLeases(ctx context.Context, cfg config.Config) ([]leaseRow, source, error) {
	src := findSource(cfg)
	if src.running {
		var views []admin.LeaseView
		err := getAdminJSON(ctx, cfg, "/api/leases", &views)
		if err == nil {
			rows := make([]leaseRow, 0, len(views))
			for _, v := range views {
				rows = append(rows, leaseRow{LeaseView: v})
			}
			return rows, src, nil
		}
		fmt.Fprintf(e.stderr, "phoneprov leases: %s, but its admin API did not answer (%v): reading the journal\n", src, err)
		src = source{text: "the lease journal " + cfg.LeasesPath() + " (read-only, while the appliance runs)"}
	}
	store, err := leases.OpenJournal(cfg.LeasesPath(), leases.JournalOptions{ReadOnly: true})
	if errors.Is(err, os.ErrNotExist) {
		src.text += "; no lease journal " + cfg.LeasesPath() + " yet: no leases"
		return nil, src, nil
	}
	if err != nil {
		return nil, src, fmt.Errorf("leases: %w", err)
	}
	defer store.Close()
	ls, err := store.Load(ctx)
	if err != nil && !errors.Is(err, leases.ErrCorrupt) {
		return nil, src, err
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "phoneprov leases: %v\n", err)
	}
	clientIDs := make(map[string][]byte, len(ls))
	for _, l := range ls {
		clientIDs[l.Addr.String()] = l.ClientID
	}
	views := admin.ViewLeases(ls)
	rows := make([]leaseRow, 0, len(views))
	for _, v := range views {
		rows = append(rows, leaseRow{LeaseView: v, ClientID: clientIDs[v.Address]})
	}
	return rows, src, nil
}

// getAdminJSON asks the running appliance's admin listener.
func getAdminJSON(ctx context.Context, cfg config.Config, path string, v any) error {
	if cfg.Admin.Listen == "" {
		return errors.New("admin listener off")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+cfg.Admin.Listen+path, nil)
	if err != nil {
		return err
	}
	cfg.Admin.Authorize(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("admin API %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("admin API %s: %w", path, err)
	}
	return nil
}

// subnetID is a lease's subnet as Kea numbers it: here the subnet's place
// in the configuration, [[dhcp.subnet]] from 1; 0 when it is not there.
func subnetID(cfg config.Config, subnet string) int {
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return 0
	}
	for i, s := range cfg.DHCP.Subnets {
		if q, err := netip.ParsePrefix(s.CIDR); err == nil && q.Masked() == p.Masked() {
			return i + 1
		}
	}
	return 0
}
