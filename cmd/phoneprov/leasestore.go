package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// openLeases opens the lease journal in the data directory. On the first
// start after an upgrade from a phoneprov that kept leases in bbolt
// (leases.db), it copies them into the journal first and renames the old
// file to leases.db.imported, so no phone loses its address.
func openLeases(ctx context.Context, cfg Config, log *slog.Logger, reg prometheus.Registerer) (*leases.Journal, error) {
	_, statErr := os.Stat(cfg.leasesPath())
	fresh := errors.Is(statErr, os.ErrNotExist)
	j, err := leases.OpenJournal(cfg.leasesPath(), leases.JournalOptions{Registerer: reg, Logger: log})
	if err != nil {
		return nil, err
	}
	if !fresh {
		return j, nil
	}
	if err := importBoltLeases(ctx, cfg.oldLeasesPath(), j, log); err != nil {
		j.Close()
		return nil, err
	}
	return j, nil
}

// importBoltLeases copies every lease of an old bbolt lease file into j and
// renames the file; a missing file is nothing to do.
func importBoltLeases(ctx context.Context, path string, j *leases.Journal, log *slog.Logger) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	old, err := leases.OpenBolt(path, leases.BoltOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("import leases from %s: %w", path, err)
	}
	ls, err := old.Load(ctx)
	old.Close()
	if err != nil && !errors.Is(err, leases.ErrCorrupt) {
		return fmt.Errorf("import leases from %s: %w", path, err)
	}
	if err != nil {
		log.Warn("some old lease records could not be read; those phones get new addresses", "path", path, "err", err)
	}
	if err := j.Put(ctx, ls...); err != nil {
		return fmt.Errorf("import leases from %s into %s: %w", path, j.Path(), err)
	}
	if err := os.Rename(path, path+".imported"); err != nil {
		return fmt.Errorf("imported leases from %s, but cannot rename it: %w", path, err)
	}
	log.Info("leases imported from the bbolt file of an older phoneprov", "count", len(ls), "from", path, "to", j.Path())
	return nil
}
