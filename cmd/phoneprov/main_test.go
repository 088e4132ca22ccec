package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "phoneprov.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInitWritesAValidConfigAndRefusesToOverwrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "site")
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"init", dir}, &out, &errb); code != 0 {
		t.Fatalf("init: %d %s", code, errb.String())
	}
	for _, sub := range []string{"files", "backup", "cache", "tls"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			t.Errorf("init did not create %s", sub)
		}
	}
	cfgPath := filepath.Join(dir, "phoneprov.toml")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatalf("written config does not load: %v", err)
	}
	if cfg.DataDir != dir {
		t.Errorf("data_dir = %q, want %q", cfg.DataDir, dir)
	}
	out.Reset()
	if code := run(t.Context(), []string{"check", "-c", cfgPath}, &out, &errb); code != 0 || !strings.Contains(out.String(), "configuration is valid") {
		t.Errorf("check of the written config: %d %s", code, errb.String())
	}
	errb.Reset()
	if code := run(t.Context(), []string{"init", dir}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "already exists") {
		t.Errorf("second init: %d %q", code, errb.String())
	}
}

func TestCommandLine(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(t.Context(), nil, &out, &errb); code != 2 {
		t.Errorf("no command: %d", code)
	}
	if code := run(t.Context(), []string{"frobnicate"}, &out, &errb); code != 2 {
		t.Errorf("unknown command: %d", code)
	}
	if code := run(t.Context(), []string{"check", "-x"}, &out, &errb); code != 2 {
		t.Errorf("unknown flag: %d", code)
	}
	out.Reset()
	if code := run(t.Context(), []string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "phoneprov ") {
		t.Errorf("version: %d %q", code, out.String())
	}
	if code := run(t.Context(), []string{"check", "-c", "/nonexistent/phoneprov.toml"}, &out, &errb); code != 1 {
		t.Errorf("missing file: %d", code)
	}
}

// phoneprov refuses to start (and check refuses) with an admin listener other hosts can reach
// and no token, and says which key to set.
func TestConfigWantsATokenOffLoopback(t *testing.T) {
	p := writeConfig(t, "[admin]\nlisten = \"0.0.0.0:9167\"\n")
	_, err := config.Load(p)
	if err == nil || !strings.Contains(err.Error(), ":1: admin.token: required because admin.listen \"0.0.0.0:9167\" is reachable from other hosts") {
		t.Fatalf("loadConfig: %v", err)
	}
	p = writeConfig(t, "[admin]\nlisten = \"0.0.0.0:9167\"\ntoken = \"9f86d081884c7d659a2feaa0c55ad015\"\n")
	if _, err := config.Load(p); err != nil {
		t.Fatalf("with a token: %v", err)
	}
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"check", "-c", p}, &out, &errb); code != 0 {
		t.Fatalf("check: %d %s", code, errb.String())
	}
	if strings.Contains(out.String(), "9f86d081884c7d659a2feaa0c55ad015") || !strings.Contains(out.String(), `token = "(hidden)"`) {
		t.Errorf("check prints the token:\n%s", out.String())
	}
}
