package main

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/internal/phoneprovconf"
	"github.com/phoneprov/phoneprov/deploy/netlab"
)

// TestConfigsLoad has phoneprov itself check every configuration the
// benchmarks write, in a network namespace that holds the lab addresses
// they listen on.
func TestConfigsLoad(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (a network namespace holding the lab addresses)")
	}
	if err := netlab.Available(); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "phoneprov")
	if out, err := exec.Command("go", "build", "-o", bin, "../phoneprov").CombinedOutput(); err != nil {
		t.Fatalf("go build phoneprov: %v\n%s", err, out)
	}
	lab := netlab.New()
	defer lab.Close()
	ns, err := lab.Namespace("ppcheck")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{labServerIP + labPrefix, lossServerAddr.String()} {
		if err := ns.AddAddr("lo", netip.MustParsePrefix(p)); err != nil {
			t.Fatal(err)
		}
	}
	ws := &workspace{Dir: dir, Files: filepath.Join(dir, "files")}
	sws := &stormWorkspace{Dir: dir, Files: ws.Files}
	slab := &stormLab{SrvIf: "pbs1", PoolEnd: poolEnd(100)}
	if err := os.Mkdir(ws.Files, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]config.Config{
		"files":      filesConfig(ws, "127.0.0.1:8080", "127.0.0.1:8443", "127.0.0.1:6969"),
		"tftp-loss":  lossConfig(ws, netip.AddrPortFrom(lossServerAddr.Addr(), lossPort)),
		"storm-seed": phoneprovConf(sws, slab, filepath.Join(dir, "seed"), false),
		"storm":      phoneprovConf(sws, slab, filepath.Join(dir, "pp-1"), true),
	} {
		path := filepath.Join(dir, name+".toml")
		if _, err := phoneprovconf.Write(cfg, path, name); err != nil {
			t.Fatal(err)
		}
		out, err := ns.Command(t.Context(), bin, "check", "-c", path).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "configuration is valid") {
			t.Errorf("%s: phoneprov check: %v\n%s", name, err, out)
		}
	}
}
