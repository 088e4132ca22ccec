// Package phoneprovconf writes phoneprov configuration files for the
// benchmark programs from phoneprov's own configuration type
// (cmd/internal/config), so that a renamed or retyped setting breaks the
// build instead of the benchmark.
package phoneprovconf

import (
	"bytes"
	"fmt"
	"os"

	"github.com/BurntSushi/toml"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
)

// New returns phoneprov's defaults with the data directory, logging at warn
// (the servers it is measured against log no per-packet lines either), the
// admin listener at admin ("" for off), and every file-server protocol off
// (root as the file tree) for the caller to switch on what it serves.
func New(dataDir, admin, root string) config.Config {
	c := config.Default()
	c.DataDir = dataDir
	c.Log.Level = "warn"
	c.Admin.Listen = admin
	c.FileServe.Root = root
	c.FileServe.HTTP.Enabled, c.FileServe.HTTPS.Enabled, c.FileServe.TFTP.Enabled = false, false, false
	return c
}

// Encode renders c as TOML, after a comment line. The file names every
// key, so provisioning.https_port is written as phoneprov derives it from
// the HTTPS listen addresses when the key is left out.
func Encode(c config.Config, comment string) ([]byte, error) {
	c.Provisioning.HTTPSPort = c.Endpoints().HTTPSPort
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n", comment)
	if err := toml.NewEncoder(&b).Encode(c); err != nil {
		return nil, fmt.Errorf("phoneprov config: %w", err)
	}
	return b.Bytes(), nil
}

// Write renders c into path and returns the text.
func Write(c config.Config, path, comment string) (string, error) {
	b, err := Encode(c, comment)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return "", fmt.Errorf("phoneprov config: %w", err)
	}
	return string(b), nil
}
