// Package phoneprovconf writes phoneprov configuration files for the
// benchmark programs from phoneprov's own section types (dhcpd.Config,
// fileserve.Config, provisioning.Config), so that a renamed or retyped
// setting breaks the build instead of the benchmark.
package phoneprovconf

import (
	"bytes"
	"fmt"
	"os"

	"github.com/BurntSushi/toml"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning"
)

// Config is a phoneprov configuration file. Its top level mirrors the
// section keys of cmd/phoneprov's Config, which lives in package main and
// cannot be imported; [log] and [admin] are mirrored too, with only the
// keys the benchmarks set. A nil section is left out of the file, and
// phoneprov then uses its defaults.
type Config struct {
	DataDir      string               `toml:"data_dir"`
	Log          Log                  `toml:"log"`
	Admin        Admin                `toml:"admin"`
	FileServe    *fileserve.Config    `toml:"fileserve,omitempty"`
	DHCP         *dhcpd.Config        `toml:"dhcp,omitempty"`
	Provisioning *provisioning.Config `toml:"provisioning,omitempty"`
}

// Log is the [log] section: debug, info, warn or error.
type Log struct {
	Level string `toml:"level"`
}

// Admin is the [admin] section: the metrics and pprof listener, "" for none.
type Admin struct {
	Listen string `toml:"listen"`
}

// New returns a configuration with its data directory, logging at warn
// (the servers it is measured against log no per-packet lines either) and
// the admin listener at admin ("" for off); no section is set.
func New(dataDir, admin string) Config {
	return Config{DataDir: dataDir, Log: Log{Level: "warn"}, Admin: Admin{Listen: admin}}
}

// Files returns fileserve's defaults with every protocol off, for the
// caller to switch on what it serves.
func Files(root string) *fileserve.Config {
	c := fileserve.DefaultConfig()
	c.Root = root
	c.HTTP.Enabled, c.HTTPS.Enabled, c.TFTP.Enabled = false, false, false
	return &c
}

// Encode renders the configuration as TOML, after a comment line.
func (c Config) Encode(comment string) ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n", comment)
	if err := toml.NewEncoder(&b).Encode(c); err != nil {
		return nil, fmt.Errorf("phoneprov config: %w", err)
	}
	return b.Bytes(), nil
}

// Write renders the configuration into path and returns the text.
func (c Config) Write(path, comment string) (string, error) {
	b, err := c.Encode(comment)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", fmt.Errorf("phoneprov config: %w", err)
	}
	return string(b), nil
}
