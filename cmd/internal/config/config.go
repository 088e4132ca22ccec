// Package config is phoneprov's configuration file: the sections of every
// part in one type, its defaults, and strict loading (unknown keys, wrong
// types and failed validations are errors naming the file, line and key).
// Each part owns its section (dhcpd.Config, fileserve.Config, …); this
// package only puts them together and checks what they say of each other.
// phoneprov loads it, and the benchmark programs render it.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/phoneprov/phoneprov/cmd/internal/config/tomlfile"
	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning"
	"github.com/phoneprov/phoneprov/provisioning/backup"
	"github.com/phoneprov/phoneprov/provisioning/downloads"
	"github.com/phoneprov/phoneprov/provisioning/inventory"
	"github.com/phoneprov/phoneprov/provisioning/relay"
	"github.com/phoneprov/phoneprov/provisioning/rollout"
)

// Config is the whole configuration file; each part owns its section.
type Config struct {
	DataDir      string             `toml:"data_dir"`
	Log          LogConfig          `toml:"log"`
	Admin        Admin              `toml:"admin"`
	FileServe    fileserve.Config   `toml:"fileserve"`
	DHCP         dhcpd.Config       `toml:"dhcp"`
	Provisioning ProvisioningConfig `toml:"provisioning"`
}

// ProvisioningConfig is the [provisioning] section: the generated files'
// settings at its top level, and the backup, relay, inventory, roll-out
// and download-cap parts in their own tables.
type ProvisioningConfig struct {
	provisioning.Config
	Backup    backup.Config    `toml:"backup"`
	Relay     relay.Config     `toml:"relay"`
	Inventory inventory.Config `toml:"inventory"`
	Rollout   rollout.Config   `toml:"rollout"`
	Downloads downloads.Config `toml:"downloads"`
}

// LogConfig is the [log] section.
type LogConfig struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // text or json
	// Access is where the line for each file request goes: AccessDebug
	// (the default), AccessInfo, AccessOff, or an absolute file path.
	// Requests that failed with a server error (5xx) are warnings in the
	// log whatever it says.
	Access string `toml:"access"`
}

// The [log] access values other than a file path.
const (
	// AccessDebug logs requests at debug level: seen with level = "debug".
	AccessDebug = "debug"
	// AccessInfo logs requests at info level, in the journal by default.
	AccessInfo = "info"
	// AccessOff logs no request lines.
	AccessOff = "off"
)

// PackagedPath is where the package installs the configuration; the
// commands read it when they are given no -c and it exists.
const PackagedPath = "/etc/phoneprov/phoneprov.toml"

// DefaultDataDir is where a packaged appliance keeps its state.
const DefaultDataDir = "/var/lib/phoneprov"

// Default is the configuration with no file: every part's defaults.
func Default() Config {
	return Config{
		DataDir:   DefaultDataDir,
		Log:       LogConfig{Level: "info", Format: "text", Access: AccessDebug},
		Admin:     DefaultAdmin(),
		FileServe: fileserve.DefaultConfig(),
		DHCP:      dhcpd.DefaultConfig(),
		Provisioning: ProvisioningConfig{
			Config:    provisioning.DefaultConfig(),
			Backup:    backup.DefaultConfig(),
			Relay:     relay.DefaultConfig(),
			Inventory: inventory.DefaultConfig(),
			Rollout:   rollout.DefaultConfig(),
			Downloads: downloads.DefaultConfig(),
		},
	}
}

// Load reads path strictly over the defaults; an empty path gives the
// defaults. Relative paths in the file are taken from the file's folder.
func Load(path string) (Config, error) {
	cfg := Default()
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
		if ep := cfg.Endpoints(); ep.HTTPSListen {
			cfg.Provisioning.HTTPSPort = ep.HTTPSPort
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
		doc.Validate("provisioning.rollout", cfg.Provisioning.Rollout.Validate),
		doc.Validate("provisioning.downloads", cfg.Provisioning.Downloads.Validate),
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
	switch c.Access {
	case AccessDebug, AccessInfo, AccessOff:
	default:
		if !filepath.IsAbs(c.Access) {
			report("access", fmt.Errorf("%q is not off, debug, info or an absolute file path", c.Access))
		}
	}
}

// SlogLevel is Level as a slog level (validated at load; info if not).
func (c LogConfig) SlogLevel() slog.Level {
	l, _ := parseLevel(c.Level)
	return l
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q is not one of debug, info, warn, error", s)
	}
	return l, nil
}

// crossCheck finds settings of different parts that contradict each other.
func (c Config) crossCheck(report func(string, error)) {
	c.checkFleetCaps(report)
	p := c.Provisioning
	if c.FileServe.HTTPS.Enabled && p.BackupPath != "" && c.Endpoints().HTTPSListen && !listensOnPort(c.FileServe.HTTPS.Listen, p.HTTPSPort) {
		report("provisioning.https_port", fmt.Errorf("%d is not a port fileserve.https.listen uses, so BRURI would point nowhere", p.HTTPSPort))
	}
	if p.Backup.Enabled && p.BackupPath != "" && p.BackupPath != p.Backup.Path {
		report("provisioning.backup_path", fmt.Errorf("%q differs from provisioning.backup.path %q: phones would back up where nothing answers", p.BackupPath, p.Backup.Path))
	}
}

// FilesDir is the operator's tree: fileserve.root, else files/ in the data directory.
func (c Config) FilesDir() string {
	if c.FileServe.Root != "" {
		return c.FileServe.Root
	}
	return filepath.Join(c.DataDir, "files")
}

// TLSDir holds the appliance's own CA and server certificate.
func (c Config) TLSDir() string { return filepath.Join(c.DataDir, "tls") }

// LeasesPath is the DHCP lease journal.
func (c Config) LeasesPath() string { return filepath.Join(c.DataDir, "leases.journal") }

// RolloutsDir is the folder of the firmware roll-outs' state.
func (c Config) RolloutsDir() string { return filepath.Join(c.DataDir, "rollouts") }

// InventoryPath is the inventory's journal of the phones seen.
func (c Config) InventoryPath() string { return filepath.Join(c.DataDir, "inventory.journal") }

// EarlierInventoryPath is where versions before the binary journal kept the
// inventory (JSON lines); inventory.Open moves and converts it.
func (c Config) EarlierInventoryPath() string { return filepath.Join(c.DataDir, "inventory.jsonl") }
