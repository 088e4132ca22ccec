package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/phoneprov/phoneprov/cmd/internal/config/tomlfile"
	"github.com/phoneprov/phoneprov/deploy"
	"github.com/phoneprov/phoneprov/dhcpd"
)

// cmdCheck validates the configuration and prints the effective one; its
// first line names the configuration.
func (e env) cmdCheck(args []string) error {
	stdout := e.stdout
	c, err := e.parseCommand("check", args, 0, nil)
	if err != nil {
		return err
	}
	cfg := c.cfg
	if err := checkHost(cfg); err != nil {
		return err
	}
	src := cmp.Or(c.chosen, c.cfgPath)
	fmt.Fprintf(stdout, "# %s: configuration is valid\n", src)
	warnUnconfirmed(stdout, cfg)
	failed, err := lintFiles(context.Background(), cfg, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "# effective configuration:")
	if err := tomlfile.Encode(stdout, cfg); err != nil {
		return err
	}
	if len(cfg.DHCP.Classes) > 0 {
		classes, err := cfg.DHCP.ExpandedClasses()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "\n# DHCP classes as the server uses them, presets expanded:")
		var expanded struct {
			DHCP struct {
				Class []dhcpd.ClassConfig `toml:"class"`
			} `toml:"dhcp"`
		}
		expanded.DHCP.Class = classes
		if err := tomlfile.Encode(stdout, expanded); err != nil {
			return err
		}
	}
	if failed {
		return errors.New("scripts in the file tree have errors (lines starting with # above)")
	}
	return nil
}

// cmdInit writes an example configuration and a data directory.
func (e env) cmdInit(args []string) error {
	stdout := e.stdout
	rest, err := e.flags("init", args, 1, nil)
	if err != nil {
		return err
	}
	if len(rest) != 1 || rest[0] == "" {
		fmt.Fprintf(e.stderr, "usage: phoneprov init DIR\n")
		return errUsage
	}
	dir, err := filepath.Abs(rest[0])
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(dir, "phoneprov.toml")
	if _, err := os.Stat(cfgPath); err == nil {
		return fmt.Errorf("%s already exists; not overwriting it", cfgPath)
	}
	for _, sub := range []struct {
		name string
		mode os.FileMode
	}{{"", 0o755}, {"files", 0o755}, {"backup", 0o750}, {"cache", 0o750}, {"tls", 0o700}} {
		if err := os.MkdirAll(filepath.Join(dir, sub.name), sub.mode); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
	}
	example := deploy.ExampleConfig()
	const line = `data_dir = "/var/lib/phoneprov"`
	if !bytes.Contains(example, []byte(line)) {
		return errors.New("example configuration has no data_dir line (build problem)")
	}
	example = bytes.Replace(example, []byte(line), []byte("data_dir = "+strconv.Quote(dir)), 1)
	if err := writeFileNew(cfgPath, example); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and the data directory %s\nnext: put firmware in %s, then run: phoneprov serve -c %s\n",
		cfgPath, dir, filepath.Join(dir, "files"), cfgPath)
	return nil
}

// writeFileNew creates path with data, failing if it exists, and syncs it.
func writeFileNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
