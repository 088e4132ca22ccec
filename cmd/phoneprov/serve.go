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
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/supervise"
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
	app, adm, err := bindAppliance(ctx, cfg, log, reg)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := supervise.Part{Name: "reload", Run: func(ctx context.Context) error {
		reloadOnHangup(ctx, hup, path, app, log)
		return nil
	}}

	log.Info("phoneprov started", "version", versionString(), "config", orDefault(path), "data_dir", cfg.DataDir)
	if err := app.run(ctx, app.parts(adm, reload)); err != nil {
		log.Error("phoneprov stopped", "err", err)
		return err
	}
	log.Info("phoneprov stopped")
	return nil
}

// bindAppliance builds every part and binds every socket, the admin
// listener's included (adm is nil when it is off). On error what was
// opened is closed and the error says what went wrong.
func bindAppliance(ctx context.Context, cfg Config, log *slog.Logger, reg *prometheus.Registry) (*appliance, *admin.Server, error) {
	app, err := buildAppliance(ctx, cfg, log, reg)
	if err != nil {
		return nil, nil, err
	}
	if err := app.bind(ctx); err != nil {
		return nil, nil, errors.Join(err, app.close())
	}
	adm, err := admin.Bind(cfg.Admin, reg, log.With("part", "admin"), app.apiRoutes(), app.readinessChecks()...)
	if err != nil {
		return nil, nil, errors.Join(err, app.close())
	}
	return app, adm, nil
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
