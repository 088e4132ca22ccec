package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/admin"
	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// cmdLeases lists the DHCP leases: from the running appliance's admin API
// when it answers, else from leases.journal (read-only).
func cmdLeases(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var asJSON bool
	c, err := parseCommand("leases", args, stderr, 0, func(fs *flag.FlagSet) {
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	cfg := c.cfg
	var views []admin.LeaseView
	if err := getAdminJSON(ctx, cfg, "/api/leases", &views); err != nil {
		store, ferr := leases.OpenJournal(cfg.LeasesPath(), leases.JournalOptions{ReadOnly: true})
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
		views = admin.ViewLeases(ls)
	}
	if asJSON {
		return admin.EncodeJSON(stdout, views)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ADDRESS\tMAC\tSTATE\tCLASS\tHOST NAME\tVENDOR CLASS\tEXPIRES")
	for _, l := range views {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Address, l.MAC, l.State, cmp.Or(l.Class, "-"), cmp.Or(l.Hostname, "-"),
			cmp.Or(l.VendorClass, "-"), l.Expiry.Local().Format(time.DateTime))
	}
	return tw.Flush()
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
