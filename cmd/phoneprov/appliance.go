package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

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
func buildAppliance(ctx context.Context, cfg Config, log *slog.Logger, reg prometheus.Registerer) (a *appliance, err error) {
	a = &appliance{cfg: cfg, log: log, events: newRecentEvents()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	metrics, err := provisioning.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("provisioning metrics: %w", err)
	}
	if a.generator, err = newGenerator(cfg, log.With("part", "provisioning"), metrics); err != nil {
		return nil, err
	}
	generators := []fileserve.Generator{a.generator}
	p := cfg.Provisioning
	if p.Relay.Enabled() {
		a.relay, err = relay.New(p.Relay, relay.Options{CacheDir: filepath.Join(cfg.DataDir, "cache"), Logger: log.With("part", "relay"), Registry: reg})
		if err != nil {
			return nil, err
		}
		generators = append(generators, a.relay)
	}
	var mounts []fileserve.Mount
	if p.Backup.Enabled {
		a.backups, err = backup.New(p.Backup, backup.Options{Dir: filepath.Join(cfg.DataDir, "backup"), Logger: log.With("part", "backup"), Registry: reg})
		if err != nil {
			return nil, err
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
		return nil, err
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
		return nil, err
	}
	if cfg.DHCP.Enabled {
		if a.leases, err = openLeases(ctx, cfg, log.With("part", "leases"), reg); err != nil {
			return nil, err
		}
		a.dhcp, err = dhcpd.New(cfg.DHCP, dhcpd.Options{
			Store:       a.leases,
			Logger:      log.With("part", "dhcp"),
			Registry:    reg,
			Vars:        cfg.dhcpVars(),
			LeaseEvents: a.events.watchLeases(leaseFacts{a.inventory}),
		})
		if err != nil {
			return nil, err
		}
	}
	return a, nil
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

// serve runs the file and DHCP servers until ctx ends or one fails.
func (a *appliance) serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	dhcpDone := make(chan error, 1)
	if a.dhcp != nil {
		go func() {
			err := a.dhcp.Serve(ctx)
			if err != nil {
				a.log.Error("DHCP server stopped", "err", err)
				cancel()
			}
			dhcpDone <- err
		}()
	} else {
		dhcpDone <- nil
	}
	err := a.files.Serve(ctx)
	cancel()
	return errors.Join(err, <-dhcpDone)
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
