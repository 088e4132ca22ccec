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
	"github.com/phoneprov/phoneprov/fileserve"
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
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := prepareDataDir(cfg); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	files, err := fileserve.New(ctx, cfg.FileServe, fileserve.Options{
		FilesDir: cfg.filesDir(),
		TLSDir:   cfg.tlsDir(),
		Logger:   log.With("part", "fileserve"),
		Registry: reg,
	})
	if err != nil {
		return err
	}
	if err := files.Bind(); err != nil {
		return err
	}
	adm, err := admin.Bind(cfg.Admin, reg, log.With("part", "admin"))
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

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloadOnHangup(ctx, hup, path, cfg, files, log)

	log.Info("phoneprov started", "version", versionString(), "config", orDefault(path), "data_dir", cfg.DataDir)
	err = files.Serve(ctx)
	log.Info("phoneprov stopped")
	return err
}

// reloadOnHangup re-reads the configuration on each SIGHUP. A file that does
// not load is refused and the running configuration stays.
func reloadOnHangup(ctx context.Context, hup <-chan os.Signal, path string, running Config, files *fileserve.Server, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		next, err := loadConfig(path)
		if err != nil {
			log.Error("reload refused; the running configuration stays", "config", orDefault(path), "err", err)
			continue
		}
		var restart []string
		if next.DataDir != running.DataDir {
			restart = append(restart, "data_dir")
		}
		if next.Log != running.Log {
			restart = append(restart, "log")
		}
		if next.Admin != running.Admin {
			restart = append(restart, "admin")
		}
		more, err := files.Reload(ctx, next.FileServe)
		if err != nil {
			log.Error("reload refused; the running configuration stays", "config", orDefault(path), "err", err)
			continue
		}
		restart = append(restart, more...)
		running = next
		if len(restart) > 0 {
			log.Warn("configuration reloaded; these settings take effect at the next restart", "keys", strings.Join(restart, ","))
		} else {
			log.Info("configuration reloaded", "config", orDefault(path))
		}
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
