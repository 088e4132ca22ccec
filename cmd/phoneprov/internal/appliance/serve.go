package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/supervise"
)

// Options are what Serve needs besides the configuration.
type Options struct {
	// ConfigPath is the file the configuration came from, re-read on
	// SIGHUP; empty for the built-in defaults.
	ConfigPath string
	Log        *slog.Logger
	// Version and Revision name the build (its version, and the commit it
	// was built from), for the log, the status page and build_info.
	Version, Revision string
}

// Serve runs the appliance until ctx ends or a part fails: it prepares the
// data directory, builds every part, binds every socket (failing, with
// the cause, before anything is served), then runs the parts and a SIGHUP
// reloader under one supervisor. Under systemd (NOTIFY_SOCKET) it says
// READY=1 once every socket is bound, RELOADING=1 and READY=1 around each
// reload, STOPPING=1 when it stops, and feeds the watchdog (WATCHDOG_USEC)
// while the readiness checks pass. The result is nil after a clean stop,
// else the first failure with the part it came from.
func Serve(ctx context.Context, cfg config.Config, o Options) error {
	log := o.Log
	setMemoryLimit(log)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	notify, err := newNotifier(os.Getenv("NOTIFY_SOCKET"), log.With("part", "systemd"))
	if err != nil {
		return err
	}
	defer notify.close()
	watchdog, err := watchdogInterval(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())
	if err != nil {
		return err
	}
	if err := prepareDataDir(cfg); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfo(o.Version, o.Revision))
	app, err := start(ctx, cfg, log, reg, o.Version)
	if err != nil {
		return err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := supervise.Part{Name: "reload", Run: func(ctx context.Context) error {
		reloadOnHangup(ctx, hup, o.ConfigPath, app, notify, log)
		return nil
	}}
	systemd := notify.systemdPart(watchdog, listenStatus(app.files.Addrs()), app.readinessChecks())
	// The processor count is the process's, so it is sized here rather
	// than among the parts, which tests run several of in one process.
	procs := supervise.Part{Name: "procs", Run: func(ctx context.Context) error {
		sizeProcs(ctx, app.files.TFTPTransfers, log)
		return nil
	}}

	log.Info("phoneprov started", "version", o.Version, "revision", o.Revision, "config", orDefault(o.ConfigPath), "data_dir", cfg.DataDir)
	if err := app.run(ctx, app.parts(reload, systemd, procs)); err != nil {
		log.Error("phoneprov stopped", "err", err)
		return err
	}
	log.Info("phoneprov stopped")
	return nil
}

// start builds every part and binds every socket, the admin listener's
// included. On error what was opened is closed and the error says what
// went wrong.
func start(ctx context.Context, cfg config.Config, log *slog.Logger, reg *prometheus.Registry, version string) (*appliance, error) {
	app, err := build(ctx, cfg, log, reg, version)
	if err != nil {
		return nil, err
	}
	if err := app.bind(ctx); err != nil {
		return nil, errors.Join(err, app.close())
	}
	return app, nil
}

// reloadOnHangup re-reads the configuration on each SIGHUP, telling
// systemd when it starts and ends (systemctl reload waits for that). A
// file that does not load is refused and the running configuration stays.
func reloadOnHangup(ctx context.Context, hup <-chan os.Signal, path string, app *appliance, notify *notifier, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		notify.send(reloading()...)
		status := reloadOnce(ctx, path, app, log)
		notify.send("READY=1", "STATUS="+status)
	}
}

// reloadOnce reloads the configuration and returns what happened, for
// systemctl status.
func reloadOnce(ctx context.Context, path string, app *appliance, log *slog.Logger) string {
	next, err := config.Load(path)
	if err == nil {
		var restart []string
		if restart, err = app.reload(ctx, next); err == nil {
			if len(restart) > 0 {
				log.Warn("configuration reloaded; these settings take effect at the next restart", "keys", strings.Join(restart, ","))
				return "reloaded; restart for " + strings.Join(restart, ",")
			}
			log.Info("configuration reloaded", "config", orDefault(path))
			return "reloaded"
		}
	}
	log.Error("reload refused; the running configuration stays", "config", orDefault(path), "err", err)
	// One line: a newline would start another state in the notification.
	return "reload refused, the running configuration stays: " + strings.ReplaceAll(err.Error(), "\n", "; ")
}

func orDefault(path string) string {
	if path == "" {
		return "built-in defaults"
	}
	return path
}

// prepareDataDir creates the data directory's folders if they are missing.
func prepareDataDir(cfg config.Config) error {
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{cfg.DataDir, 0o755}, {cfg.FilesDir(), 0o755}, {cfg.TLSDir(), 0o700}} {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			if errors.Is(err, os.ErrPermission) {
				return fmt.Errorf("cannot create %s: permission denied; run as the service user or root, or set data_dir", d.path)
			}
			return fmt.Errorf("create %s: %w", d.path, err)
		}
	}
	return nil
}
