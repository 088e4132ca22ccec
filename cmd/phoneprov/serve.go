package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/admin"
)

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	path, err := configFlag("serve", args, stderr)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)
	setMemoryLimit(log)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := prepareDataDir(cfg); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	app, err := buildAppliance(ctx, cfg, log, reg)
	if err != nil {
		return err
	}
	defer app.close()
	if err := app.bind(ctx); err != nil {
		return err
	}
	adm, err := admin.Bind(cfg.Admin, reg, log.With("part", "admin"), app.apiRoutes(), app.readinessChecks()...)
	if err != nil {
		return err
	}
	if adm != nil {
		go func() {
			if err := adm.Serve(ctx); err != nil {
				log.Error("admin listener stopped", "err", err)
			}
		}()
	}
	go trimAfterBursts(ctx, log)
	invDone := make(chan error, 1)
	go func() { invDone <- app.inventory.Run(ctx) }()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloadOnHangup(ctx, hup, path, app, log)

	log.Info("phoneprov started", "version", versionString(), "config", orDefault(path), "data_dir", cfg.DataDir)
	err = app.serve(ctx)
	if invErr := <-invDone; invErr != nil && !errors.Is(invErr, context.Canceled) {
		log.Error("inventory stopped", "err", invErr)
	}
	log.Info("phoneprov stopped")
	return err
}

// reloadOnHangup re-reads the configuration on each SIGHUP. A file that does
// not load is refused and the running configuration stays.
func reloadOnHangup(ctx context.Context, hup <-chan os.Signal, path string, app *appliance, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		next, err := loadConfig(path)
		if err == nil {
			var restart []string
			if restart, err = app.reload(ctx, next); err == nil {
				if len(restart) > 0 {
					log.Warn("configuration reloaded; these settings take effect at the next restart", "keys", strings.Join(restart, ","))
				} else {
					log.Info("configuration reloaded", "config", orDefault(path))
				}
				continue
			}
		}
		log.Error("reload refused; the running configuration stays", "config", orDefault(path), "err", err)
	}
}

func orDefault(path string) string {
	if path == "" {
		return "built-in defaults"
	}
	return path
}

// prepareDataDir creates the data directory's folders if they are missing.
func prepareDataDir(cfg Config) error {
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{cfg.DataDir, 0o755}, {cfg.filesDir(), 0o755}, {cfg.tlsDir(), 0o700}} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			if errors.Is(err, os.ErrPermission) {
				return fmt.Errorf("cannot create %s: permission denied; run as the service user or root, or set data_dir", d.path)
			}
			return fmt.Errorf("create %s: %w", d.path, err)
		}
	}
	return nil
}
