package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/admin"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/supervise"
	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/dhcpd/leases"
	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning"
	"github.com/phoneprov/phoneprov/provisioning/backup"
	"github.com/phoneprov/phoneprov/provisioning/inventory"
	"github.com/phoneprov/phoneprov/provisioning/relay"
)

// appliance is every part of a running phoneprov, wired together. Each
// part owns its own slice of the configuration; this only connects them.
type appliance struct {
	cfg       Config
	log       *slog.Logger
	generator *provisioning.Generator
	relay     *relay.Relay  // nil without upstreams
	backups   *backup.Store // nil when switched off
	inventory *inventory.Inventory
	files     *fileserve.Server
	leases    *leases.Journal // nil when DHCP is off
	dhcp      *dhcpd.Server   // nil when DHCP is off
	events    *recentEvents   // the latest access and lease events, for the admin listener
}

// newGenerator builds provisioning's generator; serve, render and check share it.
func newGenerator(cfg Config, log *slog.Logger, metrics *provisioning.Metrics) (*provisioning.Generator, error) {
	ca := ""
	if cfg.FileServe.HTTPS.Enabled && cfg.FileServe.HTTPS.CertFile == "" {
		ca = fileserve.CAFileName
	}
	return provisioning.New(cfg.Provisioning.Config, provisioning.Options{
		FilesDir:   cfg.filesDir(),
		CACertName: ca,
		NoHTTPS:    !cfg.FileServe.HTTPS.Enabled,
		Log:        log,
		Metrics:    metrics,
	})
}

// buildAppliance creates every part; nothing is bound yet. On error the
// parts already opened are closed.
func buildAppliance(ctx context.Context, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*appliance, error) {
	a := &appliance{cfg: cfg, log: log, events: newRecentEvents()}
	if err := a.build(ctx, reg); err != nil {
		// The error is what the operator needs; a failure to close what
		// was opened adds to it.
		return nil, errors.Join(err, a.close())
	}
	return a, nil
}

// build creates the parts one by one into a; the caller closes them on error.
func (a *appliance) build(ctx context.Context, reg prometheus.Registerer) error {
	cfg, log := a.cfg, a.log
	metrics, err := provisioning.NewMetrics(reg)
	if err != nil {
		return fmt.Errorf("provisioning metrics: %w", err)
	}
	if a.generator, err = newGenerator(cfg, log.With("part", "provisioning"), metrics); err != nil {
		return err
	}
	generators := []fileserve.Generator{a.generator}
	p := cfg.Provisioning
	if p.Relay.Enabled() {
		a.relay, err = relay.New(p.Relay, relay.Options{CacheDir: filepath.Join(cfg.DataDir, "cache"), Logger: log.With("part", "relay"), Registry: reg})
		if err != nil {
			return err
		}
		generators = append(generators, a.relay)
	}
	var mounts []fileserve.Mount
	if p.Backup.Enabled {
		a.backups, err = backup.New(p.Backup, backup.Options{Dir: filepath.Join(cfg.DataDir, "backup"), Logger: log.With("part", "backup"), Registry: reg})
		if err != nil {
			return err
		}
		mounts = append(mounts, a.backups.Mount())
	}
	invOpts := inventory.Options{
		Path:           filepath.Join(cfg.DataDir, "inventory.jsonl"),
		Logger:         log.With("part", "inventory"),
		Registry:       reg,
		FirmwareOf:     a.generator.FirmwareOf,
		NewestFirmware: a.generator.NewestFirmware,
	}
	if table, err := inventory.OpenNeighborTable(); err == nil {
		invOpts.Neighbors = table.List
	} else {
		log.Warn("phones with static addresses will not be identified: cannot read the neighbour table", "err", err)
	}
	if a.inventory, err = inventory.Open(p.Inventory, invOpts); err != nil {
		return err
	}
	a.files, err = fileserve.New(ctx, cfg.FileServe, fileserve.Options{
		FilesDir:  cfg.filesDir(),
		TLSDir:    cfg.tlsDir(),
		Generator: fileserve.Chain(generators...),
		Observer:  a.events.watchAccess(a.inventory),
		Mounts:    mounts,
		Logger:    log.With("part", "fileserve"),
		Registry:  reg,
	})
	if err != nil {
		return err
	}
	if cfg.DHCP.Enabled {
		a.leases, err = leases.OpenJournal(cfg.leasesPath(), leases.JournalOptions{Registerer: reg, Logger: log.With("part", "leases")})
		if err != nil {
			return err
		}
		a.dhcp, err = dhcpd.New(cfg.DHCP, dhcpd.Options{
			Store:       a.leases,
			Logger:      log.With("part", "dhcp"),
			Registry:    reg,
			Vars:        cfg.dhcpVars(),
			LeaseEvents: a.events.watchLeases(leaseFacts{a.inventory}),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// bind opens every socket of every part, or fails with what to do.
func (a *appliance) bind(ctx context.Context) error {
	if err := a.files.Bind(); err != nil {
		return err
	}
	if a.dhcp != nil {
		if err := a.dhcp.Bind(ctx); err != nil {
			return err
		}
	}
	return nil
}

// stopSlack is what stopping may take beyond the file server's drain
// timeout: the admin listener's shutdown, the inventory's last write.
const stopSlack = 5 * time.Second

// parts lists every long-lived part of the appliance, and extra ones, for
// the supervisor. adm may be nil (the admin listener is off).
func (a *appliance) parts(adm *admin.Server, extra ...supervise.Part) []supervise.Part {
	parts := []supervise.Part{
		{Name: "fileserve", Run: a.files.Serve},
		{Name: "inventory", Run: a.inventory.Run},
		{Name: "memory", Run: func(ctx context.Context) error { trimAfterBursts(ctx, a.log); return nil }},
	}
	if a.dhcp != nil {
		parts = append(parts, supervise.Part{Name: "dhcp", Run: a.dhcp.Serve})
	}
	if adm != nil {
		parts = append(parts, supervise.Part{Name: "admin", Run: adm.Serve})
	}
	return append(parts, extra...)
}

// run runs the parts under one supervisor until ctx ends or one of them
// fails, which stops the others; then it closes the appliance, writing
// what the inventory and the lease journal still hold. The result is the
// failure, if any, with the part it came from.
func (a *appliance) run(ctx context.Context, parts []supervise.Part) error {
	err := supervise.Run(ctx, a.cfg.FileServe.DrainTimeout+stopSlack, a.log, parts...)
	return errors.Join(err, a.close())
}

// reload applies a new configuration to every part that can take it at
// run time, and returns the keys that need a restart. The configuration
// was validated as a whole when it was loaded; the file server, the only
// part that can still refuse (a missing file root, a bad certificate), goes
// first, so a refusal leaves everything as it was.
func (a *appliance) reload(ctx context.Context, next Config) ([]string, error) {
	restart, err := a.files.Reload(ctx, next.FileServe)
	if err != nil {
		return nil, err
	}
	if err := a.generator.SetConfig(next.Provisioning.Config); err != nil {
		return nil, err
	}
	prev := a.cfg
	diff := func(key string, changed bool) {
		if changed {
			restart = append(restart, key)
		}
	}
	diff("data_dir", next.DataDir != prev.DataDir)
	diff("log", next.Log != prev.Log)
	diff("admin", next.Admin != prev.Admin)
	diff("dhcp", fmt.Sprint(next.DHCP) != fmt.Sprint(prev.DHCP))
	diff("provisioning.relay", fmt.Sprint(next.Provisioning.Relay) != fmt.Sprint(prev.Provisioning.Relay))
	diff("provisioning.inventory", next.Provisioning.Inventory != prev.Provisioning.Inventory)
	nb, pb := next.Provisioning.Backup, prev.Provisioning.Backup
	diff("provisioning.backup.enabled", nb.Enabled != pb.Enabled)
	diff("provisioning.backup.path", nb.Path != pb.Path)
	if a.backups != nil {
		nb.Enabled, nb.Path = pb.Enabled, pb.Path // those two wait for the restart
		if err := a.backups.Reload(nb); err != nil {
			a.log.Error("backup settings not reloaded", "err", err)
		}
	}
	a.cfg = next
	return restart, nil
}

func (a *appliance) close() error {
	var errs []error
	if a.leases != nil {
		errs = append(errs, a.leases.Close())
	}
	if a.inventory != nil {
		errs = append(errs, a.inventory.Close())
	}
	if a.relay != nil {
		errs = append(errs, a.relay.Close())
	}
	if a.backups != nil {
		errs = append(errs, a.backups.Close())
	}
	return errors.Join(errs...)
}
