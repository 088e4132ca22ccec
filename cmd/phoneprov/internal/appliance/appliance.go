// Package appliance builds every part of a running phoneprov from its
// configuration, connects them, binds every socket and runs the parts
// under one supervisor: the first part to fail stops the others, and its
// cause is what Serve returns. Each part owns its own slice of the
// configuration; this package computes what several parts need
// (config.Endpoints) once and hands it to them, and delivers lease and
// access events to their consumers (see fanout).
package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/admin"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/supervise"
	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/dhcpd/ha"
	"github.com/phoneprov/phoneprov/dhcpd/leases"
	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/internal/neigh"
	"github.com/phoneprov/phoneprov/provisioning"
	"github.com/phoneprov/phoneprov/provisioning/backup"
	"github.com/phoneprov/phoneprov/provisioning/downloads"
	"github.com/phoneprov/phoneprov/provisioning/firmware"
	"github.com/phoneprov/phoneprov/provisioning/inventory"
	"github.com/phoneprov/phoneprov/provisioning/relay"
	"github.com/phoneprov/phoneprov/provisioning/rollout"
)

// appliance is every part of a running phoneprov, wired together.
type appliance struct {
	cfg       config.Config
	log       *slog.Logger
	reg       *prometheus.Registry
	version   string
	firmware  *firmware.Tree // the catalogue of the file tree's firmware, read by the generator, the inventory and the status page
	generator *provisioning.Generator
	relay     *relay.Relay  // nil without upstreams
	backups   *backup.Store // nil when switched off
	inventory *inventory.Inventory
	rollouts  *rollout.Manager
	downloads *downloads.Limiter
	neighbors *neigh.Table // nil when the kernel's table cannot be read
	files     *fileserve.Server
	leases    *leases.Journal // nil when DHCP is off
	dhcp      *dhcpd.Server   // nil when DHCP is off
	pair      *ha.Service     // nil unless [dhcp.ha] is enabled
	events    *admin.Events   // the latest access and lease events, for the admin listener
	accessLog *accessLog      // one line per file request, where [log] access says
	admin     *admin.Server   // nil until bound, and when the admin listener is off
}

// NewGenerator builds provisioning's generator, told where the file
// server answers; serve, render and check share it. metrics may be nil;
// fw is the firmware catalogue of cfg.FilesDir() to share, or nil for the
// generator's own.
func NewGenerator(cfg config.Config, log *slog.Logger, metrics *provisioning.Metrics, fw *firmware.Tree) (*provisioning.Generator, error) {
	ep := cfg.Endpoints()
	return provisioning.New(cfg.Provisioning.Config, provisioning.Options{
		FilesDir:   cfg.FilesDir(),
		CACertName: ep.CACertName,
		NoHTTPS:    !ep.HTTPS,
		Log:        log,
		Metrics:    metrics,
		Firmware:   fw,
	})
}

// build creates every part; nothing is bound yet. On error the parts
// already opened are closed.
func build(ctx context.Context, cfg config.Config, log *slog.Logger, reg *prometheus.Registry, version string) (*appliance, error) {
	a := &appliance{cfg: cfg, log: log, reg: reg, version: version, events: admin.NewEvents()}
	if err := a.buildParts(ctx); err != nil {
		// The error is what the operator needs; a failure to close what
		// was opened adds to it.
		return nil, errors.Join(err, a.close())
	}
	return a, nil
}

// buildParts creates the parts one by one into a, in the order they
// depend on each other; the caller closes them on error.
func (a *appliance) buildParts(ctx context.Context) error {
	generators, mounts, err := a.buildProvisioning()
	if err != nil {
		return err
	}
	if err := a.buildInventory(); err != nil {
		return err
	}
	if err := a.buildRollouts(ctx); err != nil {
		return err
	}
	if err := a.buildDownloads(); err != nil {
		return err
	}
	if a.accessLog, err = newAccessLog(a.cfg.Log, a.log.With("part", "fileserve")); err != nil {
		return err
	}
	events := fanout{
		access: []fileserve.AccessObserver{a.inventory, a.events, a.accessLog},
		leases: []dhcpd.LeaseObserver{a.inventory, a.events},
	}
	a.files, err = fileserve.New(ctx, a.cfg.FileServe, fileserve.Options{
		FilesDir:  a.cfg.FilesDir(),
		TLSDir:    a.cfg.TLSDir(),
		Generator: fileserve.Chain(generators...),
		Observer:  events,
		Mounts:    mounts,
		Admitter:  a.downloads,
		Logger:    a.log.With("part", "fileserve"),
		Registry:  a.reg,
	})
	if err != nil {
		return err
	}
	if !a.cfg.DHCP.Enabled {
		return nil
	}
	if a.leases, err = leases.OpenJournal(a.cfg.LeasesPath(), leases.JournalOptions{Registerer: a.reg, Logger: a.log.With("part", "leases")}); err != nil {
		return err
	}
	opts := dhcpd.Options{
		Store:       a.leases,
		Logger:      a.log.With("part", "dhcp"),
		Registry:    a.reg,
		Vars:        dhcpVars(a.cfg.Endpoints()),
		LeaseEvents: events,
	}
	if a.cfg.DHCP.HA.Enabled {
		if err := a.buildPair(); err != nil {
			return err
		}
		opts.Partner = a.pair
	}
	a.dhcp, err = dhcpd.New(a.cfg.DHCP, opts)
	return err
}

// buildProvisioning creates the firmware catalogue, the generator, the
// relay and the backup store, and returns what the file server serves
// from them.
func (a *appliance) buildProvisioning() ([]fileserve.Generator, []fileserve.Mount, error) {
	metrics, err := provisioning.NewMetrics(a.reg)
	if err != nil {
		return nil, nil, err // "register provisioning metrics: …"
	}
	a.firmware = firmware.NewTree(a.cfg.FilesDir(), nil)
	if a.generator, err = NewGenerator(a.cfg, a.log.With("part", "provisioning"), metrics, a.firmware); err != nil {
		return nil, nil, err
	}
	generators := []fileserve.Generator{a.generator}
	p := a.cfg.Provisioning
	if p.Relay.Enabled() {
		a.relay, err = relay.New(p.Relay, relay.Options{CacheDir: filepath.Join(a.cfg.DataDir, "cache"), Logger: a.log.With("part", "relay"), Registry: a.reg})
		if err != nil {
			return nil, nil, err
		}
		generators = append(generators, a.relay)
	}
	var mounts []fileserve.Mount
	if p.Backup.Enabled {
		a.backups, err = backup.New(p.Backup, backup.Options{Dir: filepath.Join(a.cfg.DataDir, "backup"), Logger: a.log.With("part", "backup"), Registry: a.reg,
			ReplicateTo: a.cfg.BackupReplicaURL(), Fleet: a.cfg.Fleet()})
		if err != nil {
			return nil, nil, err
		}
		mounts = append(mounts, a.backups.Mount())
	}
	return generators, mounts, nil
}

// buildInventory opens the inventory, told by the firmware catalogue what
// is firmware and what is newest.
func (a *appliance) buildInventory() error {
	opts := inventory.Options{
		Path:        a.cfg.InventoryPath(),
		EarlierPath: a.cfg.EarlierInventoryPath(),
		Logger:      a.log.With("part", "inventory"),
		Registry:    a.reg,
		Firmware:    a.firmware,
		Fleet:       a.cfg.Fleet(),
	}
	var err error
	if a.neighbors, err = neigh.Open(); err == nil {
		opts.Neighbors = a.neighbors.List
	} else {
		a.log.Warn("phones with static addresses will not be identified: cannot read the neighbour table", "err", err)
	}
	a.inventory, err = inventory.Open(a.cfg.Provisioning.Inventory, opts)
	return err
}

// bind opens every socket of every part, the admin listener's last, or
// fails with what to do; on failure the caller closes the appliance.
func (a *appliance) bind(ctx context.Context) error {
	if err := a.files.Bind(); err != nil {
		return err
	}
	if a.dhcp != nil {
		if err := a.dhcp.Bind(ctx); err != nil {
			return err
		}
	}
	if a.pair != nil {
		if err := a.pair.Bind(a.dhcp); err != nil {
			return err
		}
	}
	site := admin.NewSite(a.siteParts(a.events))
	var err error
	a.admin, err = admin.Bind(a.cfg.Admin, a.reg, a.log.With("part", "admin"), site.Routes(), a.readinessChecks()...)
	return err
}

// siteParts are the parts the admin listener's page and API read, with
// events as the recent-events recorder (nil: none).
func (a *appliance) siteParts(events *admin.Events) admin.Parts {
	return admin.Parts{
		Files: a.files, Generator: a.generator, Firmware: a.firmware, Inventory: a.inventory, Rollouts: a.rollouts, Downloads: a.downloads, DHCP: a.dhcp, Pair: a.pairStatus(),
		Events: events, Relay: a.relay != nil, Version: a.version, Log: a.log.With("part", "admin"), Checks: a.readinessChecks(),
	}
}

// stopSlack is what stopping may take beyond the file server's drain
// timeout: the admin listener's shutdown, the inventory's last write.
const stopSlack = 5 * time.Second

// parts lists every long-lived part of the appliance, and extra ones, for
// the supervisor.
func (a *appliance) parts(extra ...supervise.Part) []supervise.Part {
	parts := []supervise.Part{
		{Name: "fileserve", Run: a.files.Serve},
		{Name: "inventory", Run: a.inventory.Run},
		{Name: "rollouts", Run: a.rollouts.Run},
		{Name: "memory", Run: func(ctx context.Context) error { trimAfterBursts(ctx, a.log); return nil }},
	}
	if a.dhcp != nil {
		parts = append(parts, supervise.Part{Name: "dhcp", Run: a.dhcp.Serve})
	}
	if a.pair != nil {
		parts = append(parts, supervise.Part{Name: "ha", Run: a.pair.Run})
	}
	if a.admin != nil {
		parts = append(parts, supervise.Part{Name: "admin", Run: a.admin.Serve})
	}
	parts = append(parts, a.replicaParts()...)
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
// was validated as a whole when it was loaded; the parts that can still
// refuse (an access log file that does not open, the file server with a
// missing file root or a bad certificate) go first, so a refusal leaves
// everything as it was.
func (a *appliance) reload(ctx context.Context, next config.Config) ([]string, error) {
	// The access log's file is opened anew (logrotate's postrotate runs a
	// reload), before anything changes, as it may be refused too.
	access, err := openAccessDest(next.Log)
	if err != nil {
		return nil, err
	}
	restart, err := a.files.Reload(ctx, next.FileServe)
	if err != nil {
		return nil, errors.Join(err, access.close())
	}
	if err := a.generator.SetConfig(next.Provisioning.Config); err != nil {
		return nil, errors.Join(err, access.close())
	}
	a.rollouts.SetConfig(next.Provisioning.Rollout)
	a.downloads.SetConfig(next.Provisioning.Downloads)
	a.downloads.SetLinks(dhcpLinks(next.DHCP))
	if err := a.accessLog.swap(access); err != nil {
		a.log.Warn("the previous access log file did not close cleanly", "err", err)
	}
	prev := a.cfg
	diff := func(key string, changed bool) {
		if changed {
			restart = append(restart, key)
		}
	}
	diff("data_dir", next.DataDir != prev.DataDir)
	diff("log.level", next.Log.Level != prev.Log.Level)
	diff("log.format", next.Log.Format != prev.Log.Format)
	diff("admin", next.Admin != prev.Admin)
	diff("dhcp", fmt.Sprint(next.DHCP) != fmt.Sprint(prev.DHCP))
	diff("provisioning.relay", fmt.Sprint(next.Provisioning.Relay) != fmt.Sprint(prev.Provisioning.Relay))
	diff("provisioning.inventory", next.Provisioning.Inventory != prev.Provisioning.Inventory)
	nb, pb := next.Provisioning.Backup, prev.Provisioning.Backup
	diff("provisioning.backup.enabled", nb.Enabled != pb.Enabled)
	diff("provisioning.backup.path", nb.Path != pb.Path)
	diff("provisioning.backup.replicate_to", next.BackupReplicaURL() != prev.BackupReplicaURL())
	if a.backups != nil {
		nb.Enabled, nb.Path, nb.ReplicateTo = pb.Enabled, pb.Path, pb.ReplicateTo // those wait for the restart
		if err := a.backups.Reload(nb); err != nil {
			a.log.Error("backup settings not reloaded", "err", err)
		}
	}
	a.cfg = next
	return restart, nil
}

// close closes what holds files; the sockets close when their parts stop.
func (a *appliance) close() error {
	var errs []error
	if a.leases != nil {
		errs = append(errs, a.leases.Close())
	}
	if a.inventory != nil {
		errs = append(errs, a.inventory.Close())
	}
	if a.neighbors != nil {
		a.neighbors.Close() // after the inventory, which reads it until it stops
	}
	if a.relay != nil {
		errs = append(errs, a.relay.Close())
	}
	if a.backups != nil {
		errs = append(errs, a.backups.Close())
	}
	if a.accessLog != nil {
		errs = append(errs, a.accessLog.close()) // after the file server, which feeds it until it stops
	}
	return errors.Join(errs...)
}
