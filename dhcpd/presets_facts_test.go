package dhcpd

import (
	"net"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/phoneprov/phoneprov/cmd/phonesim/facts"
)

// loadFacts reads the sourced phone table (testdata/phones).
func loadFacts(t *testing.T) facts.Table {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := facts.ModuleRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := facts.LoadDir(facts.Dir(root))
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// presetPolicy compiles a configuration whose only class is preset p.
func presetPolicy(t *testing.T, p string) *policy {
	t.Helper()
	c := baseConfig()
	cc := ClassConfig{Preset: p}
	if strings.HasSuffix(p, "-data-vlan") {
		cc.VoiceVLAN = 20
	}
	c.Classes = []ClassConfig{cc}
	var problems []string
	pol := compile(c, func(k string, err error) { problems = append(problems, k+": "+err.Error()) })
	if pol == nil {
		t.Fatalf("preset %s: %v", p, problems)
	}
	return pol
}

// classWant is which presets should capture a model by its vendor class.
// It is written from the table's vendor and series, not from the presets.
func classWant(m facts.Model) []string {
	switch m.Vendor {
	case "Avaya":
		if m.Series == "1200" {
			return []string{PresetAvaya1200, PresetAvaya1200DataVLAN}
		}
		return []string{PresetAvaya, PresetAvayaDataVLAN}
	case "Cisco":
		if m.Series == "MPP" {
			return []string{PresetCiscoMPP}
		}
		return []string{PresetCisco}
	case "Polycom":
		return []string{PresetPolycom, PresetPolycomDataVLAN}
	case "Yealink":
		return []string{PresetYealink}
	case "snom":
		return []string{PresetSnom}
	case "Grandstream":
		return []string{PresetGrandstream}
	case "Mitel":
		if strings.HasPrefix(m.Series, "MiNet") {
			return []string{PresetMitel}
		}
		return []string{PresetMitelSIP}
	}
	return nil
}

// ouiWant is which presets should capture a phone that sends no vendor
// class, by its MAC prefix alone.
func ouiWant(vendor, oui string) []string {
	switch vendor {
	case "Avaya":
		return []string{PresetAvaya, PresetAvayaDataVLAN}
	case "Cisco":
		// Cisco's other prefixes are shared with all Cisco equipment;
		// d0:ec:35 is the one wazo gives MPP phones without a class.
		if oui == "d0:ec:35" {
			return []string{PresetCiscoMPP}
		}
		return nil
	case "Polycom":
		return []string{PresetPolycom, PresetPolycomDataVLAN}
	case "Yealink":
		return []string{PresetYealink}
	case "snom":
		return []string{PresetSnom}
	case "Grandstream":
		return []string{PresetGrandstream}
	case "Mitel":
		// A class-less phone on a shared prefix may be MiNet or SIP.
		if oui == "14:00:e9" {
			return []string{PresetMitelSIP}
		}
		return []string{PresetMitel, PresetMitelSIP}
	}
	return nil
}

// tablePhone is one way a table phone shows itself to the server.
type tablePhone struct {
	what string
	f    clientFacts
	want []string
}

// identities are the table's option 60 bytes (with something added where
// only a prefix or suffix is known), its MAC prefixes alone, and, for the
// vendors whose prefixes are shared between presets, class and prefix together.
func identities(tab facts.Table) []tablePhone {
	neutral, _ := net.ParseMAC("02:00:00:00:00:01")
	var out []tablePhone
	for _, m := range tab.Models {
		name := m.Vendor + " " + m.Name
		for _, vc := range m.VendorClasses {
			forms := [][]byte{vc.Bytes}
			switch vc.Match {
			case facts.MatchPrefix:
				forms = append(forms, append(slices.Clone(vc.Bytes), "X1"...))
			case facts.MatchSuffix:
				forms = append(forms, append([]byte("X1 "), vc.Bytes...))
			}
			for _, b := range forms {
				out = append(out, tablePhone{name + " class " + facts.Render(b), clientFacts{mac: neutral, vendorClass: b}, classWant(m)})
				if m.Vendor != "Mitel" && m.Vendor != "Avaya" {
					continue
				}
				for _, o := range m.OUIs {
					mac, _ := net.ParseMAC(o.Value + ":12:34:56")
					out = append(out, tablePhone{name + " class " + facts.Render(b) + " from " + o.Value, clientFacts{mac: mac, vendorClass: b}, classWant(m)})
				}
			}
		}
		for _, o := range m.OUIs {
			mac, _ := net.ParseMAC(o.Value + ":12:34:56")
			out = append(out, tablePhone{name + " prefix " + o.Value, clientFacts{mac: mac}, ouiWant(m.Vendor, o.Value)})
		}
	}
	return out
}

// TestPresetsCaptureTheTablePhones checks every preset against every
// phone of the sourced table: a preset captures exactly the phones it is for.
func TestPresetsCaptureTheTablePhones(t *testing.T) {
	tab := loadFacts(t)
	ids := identities(tab)
	if len(ids) < 100 {
		t.Fatalf("only %d identities from the table", len(ids))
	}
	for _, p := range Presets() {
		pol := presetPolicy(t, p)
		captured := 0
		for _, id := range ids {
			id.f.subnet = pol.subnets[0].prefix
			got := pol.classify(&id.f) != nil
			want := slices.Contains(id.want, p)
			if got != want {
				t.Errorf("preset %s, %s: captured %v, want %v", p, id.what, got, want)
			}
			if got {
				captured++
			}
		}
		if captured == 0 {
			t.Errorf("preset %s captures no phone of the table", p)
		}
	}
}

// Every OUI and vendor class of the table that a preset should match is in
// that preset's own rules, with a source or marked unconfirmed.
func TestPresetRulesNameTheirSource(t *testing.T) {
	for _, p := range Presets() {
		spec, ok := presetSpecFor(p)
		if !ok {
			t.Fatalf("no spec for %s", p)
		}
		_, extra, err := spec.build(ClassConfig{VoiceVLAN: 20})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for _, list := range [][]rule{spec.vendorExact, spec.vendorPrefix, spec.vendorRegexp, spec.macPrefix, spec.notVendorPrefix, spec.facts, extra} {
			for _, r := range list {
				if (r.source == "") == (r.why == "") {
					t.Errorf("%s: rule %q needs a source or (only) an unconfirmed reason", p, r.value)
				}
			}
		}
	}
}
