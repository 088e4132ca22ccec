package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// leaseView is a lease as `phoneprov leases --json` and the admin API show it.
type leaseView struct {
	MAC         string    `json:"mac"`
	Address     string    `json:"address"`
	State       string    `json:"state"`
	Class       string    `json:"class,omitempty"`
	Hostname    string    `json:"hostname,omitempty"`
	VendorClass string    `json:"vendor_class,omitempty"`
	Subnet      string    `json:"subnet"`
	Start       time.Time `json:"start"`
	Expiry      time.Time `json:"expiry"`
}

func viewLeases(ls []leases.Lease) []leaseView {
	ls = slices.Clone(ls)
	slices.SortFunc(ls, func(a, b leases.Lease) int { return a.Addr.Compare(b.Addr) })
	out := make([]leaseView, 0, len(ls))
	for _, l := range ls {
		out = append(out, leaseView{
			MAC: l.HWAddr.String(), Address: l.Addr.String(), State: l.State.String(), Class: l.Class,
			Hostname: l.Hostname, VendorClass: l.VendorClass, Subnet: l.Subnet.String(), Start: l.Start, Expiry: l.Expiry,
		})
	}
	return out
}

// cmdLeases lists the DHCP leases: from the running appliance's admin API
// when it answers, else from leases.journal (read-only).
func cmdLeases(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	path, rest, err := commandFlags("leases", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errUsage
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	var views []leaseView
	if err := getAdminJSON(ctx, cfg, "/api/leases", &views); err != nil {
		store, ferr := leases.OpenJournal(cfg.leasesPath(), leases.JournalOptions{ReadOnly: true})
		if ferr != nil {
			return fmt.Errorf("leases: the appliance's admin API did not answer (%v) and %w", err, ferr)
		}
		defer store.Close()
		ls, lerr := store.Load(ctx)
		if lerr != nil && !errors.Is(lerr, leases.ErrCorrupt) {
			return lerr
		}
		if lerr != nil {
			fmt.Fprintf(stderr, "phoneprov leases: %v\n", lerr)
		}
		views = viewLeases(ls)
	}
	if asJSON {
		return encodeJSON(stdout, views)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tMAC\tSTATE\tCLASS\tHOST NAME\tVENDOR CLASS\tEXPIRES")
	for _, l := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Address, l.MAC, l.State, dash(l.Class), dash(l.Hostname),
			dash(l.VendorClass), l.Expiry.Local().Format(time.DateTime))
	}
	return tw.Flush()
}

// getAdminJSON asks the running appliance's admin listener.
func getAdminJSON(ctx context.Context, cfg Config, path string, v any) error {
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
