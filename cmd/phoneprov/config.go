package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/admin"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/tomlfile"
	"github.com/phoneprov/phoneprov/fileserve"
)

// Config is the whole configuration file; each part owns its section.
type Config struct {
	DataDir   string           `toml:"data_dir"`
	Log       LogConfig        `toml:"log"`
	Admin     admin.Config     `toml:"admin"`
	FileServe fileserve.Config `toml:"fileserve"`
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
	}
	err = errors.Join(
		doc.Validate("", cfg.validateOwn),
		doc.Validate("log", cfg.Log.Validate),
		doc.Validate("admin", cfg.Admin.Validate),
		doc.Validate("fileserve", cfg.FileServe.Validate),
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

func (c Config) filesDir() string { return filepath.Join(c.DataDir, "files") }
func (c Config) tlsDir() string   { return filepath.Join(c.DataDir, "tls") }
