package main

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/admin"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/tomlfile"
	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning"
	"github.com/phoneprov/phoneprov/provisioning/backup"
	"github.com/phoneprov/phoneprov/provisioning/inventory"
	"github.com/phoneprov/phoneprov/provisioning/relay"
)

// Config is the whole configuration file; each part owns its section.
type Config struct {
	DataDir      string             `toml:"data_dir"`
	Log          LogConfig          `toml:"log"`
	Admin        admin.Config       `toml:"admin"`
	FileServe    fileserve.Config   `toml:"fileserve"`
	DHCP         dhcpd.Config       `toml:"dhcp"`
	Provisioning ProvisioningConfig `toml:"provisioning"`
}

// ProvisioningConfig is the [provisioning] section: the generated files'
// settings at its top level, and the backup, relay and inventory parts in
// their own tables.
type ProvisioningConfig struct {
	provisioning.Config
	Backup    backup.Config    `toml:"backup"`
	Relay     relay.Config     `toml:"relay"`
	Inventory inventory.Config `toml:"inventory"`
}

// LogConfig is the [log] section.
type LogConfig struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // text or json
}

// defaultDataDir is where a packaged appliance keeps its state.
const defaultDataDir = "/var/lib/phoneprov"

func defaultConfig() Config {
	return Config{
		DataDir:   defaultDataDir,
		Log:       LogConfig{Level: "info", Format: "text"},
		Admin:     admin.DefaultConfig(),
		FileServe: fileserve.DefaultConfig(),
		DHCP:      dhcpd.DefaultConfig(),
		Provisioning: ProvisioningConfig{
			Config:    provisioning.DefaultConfig(),
			Backup:    backup.DefaultConfig(),
			Relay:     relay.DefaultConfig(),
			Inventory: inventory.DefaultConfig(),
		},
	}
}

// loadConfig reads path strictly over the defaults; an empty path gives the
// defaults. Relative paths in the file are taken from the file's folder.
func loadConfig(path string) (Config, error) {
	cfg := defaultConfig()
	doc, err := tomlfile.Decode(path, &cfg)
	if err != nil {
		return Config{}, err
	}
	if path != "" {
		base := filepath.Dir(path)
		cfg.DataDir = relativeTo(base, cfg.DataDir)
		cfg.FileServe.Root = relativeTo(base, cfg.FileServe.Root)
		cfg.FileServe.HTTPS.CertFile = relativeTo(base, cfg.FileServe.HTTPS.CertFile)
		cfg.FileServe.HTTPS.KeyFile = relativeTo(base, cfg.FileServe.HTTPS.KeyFile)
		cfg.Provisioning.Relay.CAFile = relativeTo(base, cfg.Provisioning.Relay.CAFile)
	}
	if doc.Line("provisioning.https_port") == 0 {
		// Unless set, BRURI names the port HTTPS really listens on.
		if p := firstPort(cfg.FileServe.HTTPS.Listen); p > 0 {
			cfg.Provisioning.HTTPSPort = p
		}
	}
	err = errors.Join(
		doc.Validate("", cfg.validateOwn),
		doc.Validate("log", cfg.Log.Validate),
		doc.Validate("admin", cfg.Admin.Validate),
		doc.Validate("fileserve", cfg.FileServe.Validate),
		doc.Validate("dhcp", cfg.DHCP.Validate),
		doc.Validate("provisioning", cfg.Provisioning.Config.Validate),
		doc.Validate("provisioning.backup", cfg.Provisioning.Backup.Validate),
		doc.Validate("provisioning.relay", cfg.Provisioning.Relay.Validate),
		doc.Validate("provisioning.inventory", cfg.Provisioning.Inventory.Validate),
		doc.Validate("", cfg.crossCheck),
	)
	if err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func relativeTo(base, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(base, p)
}

func (c Config) validateOwn(report func(string, error)) {
	if c.DataDir == "" {
		report("data_dir", errors.New("must not be empty"))
	}
}

// Validate reports problems keyed relative to [log].
func (c LogConfig) Validate(report func(string, error)) {
	if _, err := parseLevel(c.Level); err != nil {
		report("level", err)
	}
	if c.Format != "text" && c.Format != "json" {
		report("format", fmt.Errorf("%q is not text or json", c.Format))
	}
}

// crossCheck finds settings of different parts that contradict each other.
func (c Config) crossCheck(report func(string, error)) {
	p := c.Provisioning
	if c.FileServe.HTTPS.Enabled && p.BackupPath != "" && firstPort(c.FileServe.HTTPS.Listen) != 0 && !listensOnPort(c.FileServe.HTTPS.Listen, p.HTTPSPort) {
		report("provisioning.https_port", fmt.Errorf("%d is not a port fileserve.https.listen uses, so BRURI would point nowhere", p.HTTPSPort))
	}
	if p.Backup.Enabled && p.BackupPath != "" && p.BackupPath != p.Backup.Path {
		report("provisioning.backup_path", fmt.Errorf("%q differs from provisioning.backup.path %q: phones would back up where nothing answers", p.BackupPath, p.Backup.Path))
	}
}

func firstPort(addrs []string) int {
	for _, a := range addrs {
		if _, p, err := net.SplitHostPort(a); err == nil {
			n, _ := strconv.Atoi(p)
			return n
		}
	}
	return 0
}

func listensOnPort(addrs []string, port int) bool {
	for _, a := range addrs {
		if _, p, err := net.SplitHostPort(a); err == nil && p == strconv.Itoa(port) {
			return true
		}
	}
	return false
}

// filesDir is the operator's tree: fileserve.root, else files/ in the data directory.
func (c Config) filesDir() string {
	if c.FileServe.Root != "" {
		return c.FileServe.Root
	}
	return filepath.Join(c.DataDir, "files")
}
func (c Config) tlsDir() string { return filepath.Join(c.DataDir, "tls") }
