package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/dhcpd"
)

// TestCheckWarnsOfUnconfirmedFacts: check names every unconfirmed fact the
// generator relies on, and names none when nothing is generated.
func TestCheckWarnsOfUnconfirmedFacts(t *testing.T) {
	cfg := config.Default()
	facts := unconfirmedFacts(cfg)
	if len(facts) == 0 {
		t.Fatal("the default configuration generates files, yet no unconfirmed fact is listed")
	}
	var out bytes.Buffer
	warnUnconfirmed(&out, cfg)
	for _, f := range facts {
		if !strings.Contains(out.String(), "unconfirmed "+f.id+": ") {
			t.Errorf("check does not name %s:\n%s", f.id, out.String())
		}
	}
	cfg.DHCP.Classes = []dhcpd.ClassConfig{{Preset: dhcpd.PresetMitel}}
	var mitel bytes.Buffer
	warnUnconfirmed(&mitel, cfg)
	if !strings.Contains(mitel.String(), "unconfirmed dhcp-preset/mitel: ipphone.mitel.com") {
		t.Errorf("a class with the mitel preset, yet check does not warn of its unconfirmed vendor class:\n%s", mitel.String())
	}
	cfg.DHCP.Classes = nil
	cfg.Provisioning.GenerateSettings, cfg.Provisioning.GenerateUpgrade = false, false
	out.Reset()
	warnUnconfirmed(&out, cfg)
	if strings.Contains(out.String(), "firmware-name/") {
		t.Errorf("nothing is generated, yet check warns of firmware-name rules:\n%s", out.String())
	}
}

// TestReadmeListsUnconfirmedFacts keeps the README's list of unconfirmed
// phone facts in step with the code's.
func TestReadmeListsUnconfirmedFacts(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	for _, p := range dhcpd.Presets() {
		cfg.DHCP.Classes = append(cfg.DHCP.Classes, dhcpd.ClassConfig{Preset: p, VoiceVLAN: 100})
	}
	for _, f := range unconfirmedFacts(cfg) {
		if !bytes.Contains(readme, []byte("`"+f.id+"`")) {
			t.Errorf("README.md does not list the unconfirmed fact `%s` (%s)", f.id, f.statement)
		}
	}
}
