package facts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func tableDir(t *testing.T) string {
	t.Helper()
	root, err := ModuleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return Dir(root)
}

// TestTableLoads loads the real table: it must validate, hold at least 40
// models and cover every vendor the simulator is meant to imitate.
func TestTableLoads(t *testing.T) {
	tab, err := LoadDir(tableDir(t))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if n := len(tab.Models); n < 40 {
		t.Errorf("%d models, want at least 40", n)
	}
	counts := tab.Vendors()
	t.Logf("models per vendor: %v", counts)
	want := map[string]int{"Avaya": 19, "Cisco": 8, "Polycom": 4, "Yealink": 3, "Mitel": 4, "snom": 2, "Grandstream": 2}
	for vendor, min := range want {
		if counts[vendor] < min {
			t.Errorf("%s: %d models, want at least %d", vendor, counts[vendor], min)
		}
	}
	for _, m := range tab.Models {
		if len(m.Signalling) == 0 {
			t.Errorf("%s %s: no signalling fact", m.Vendor, m.Name)
		}
		for _, f := range m.Signalling {
			if !f.Unconfirmed && f.Ref.Title == "" {
				t.Errorf("%s %s: sourced fact without a resolved source", m.Vendor, m.Name)
			}
		}
	}
}

// TestKnownFacts spot-checks facts later work relies on, read through the
// typed entries.
func TestKnownFacts(t *testing.T) {
	tab, err := LoadDir(tableDir(t))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	j189, ok := tab.Find("avaya", "j189")
	if !ok {
		t.Fatal("J189 missing")
	}
	var names []string
	for _, f := range j189.FirmwareFiles {
		names = append(names, f.Value)
	}
	if !strings.Contains(strings.Join(names, " "), "FW_S_J189A_") {
		t.Errorf("J189 firmware %v lacks the FW_S_J189A_ image", names)
	}
	if got := j189.OUIs; len(got) == 0 {
		t.Error("J189 has no OUIs: [common] was not merged")
	}
	cisco, ok := tab.Find("Cisco", "CP-7911G")
	if !ok {
		t.Fatal("CP-7911G missing")
	}
	found := false
	for _, vc := range cisco.VendorClasses {
		if len(vc.Bytes) > 0 && vc.Bytes[len(vc.Bytes)-1] == 0 {
			found = true
		}
	}
	if !found {
		t.Error("CP-7911G: no option 60 ending in a NUL byte")
	}
}

// writeTable writes one vendor file into a fresh directory.
func writeTable(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "v.toml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

const goodHead = `vendor = "V"
[sources.s]
title = "A manual"
url = "https://example.com/m"
`

// TestValidation feeds the loader broken tables; each must be refused with
// an error that says what is wrong.
func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"ok", goodHead + `[[model]]
model = "M"
signalling = [{value = "SIP", source = "s", at = "p.1"}]
option60 = [{text = 'ab\x00', hex = "616200", source = "s"}]
`, ""},
		{"no source, not unconfirmed", goodHead + `[[model]]
model = "M"
signalling = [{value = "SIP"}]
`, "no source and is not marked unconfirmed"},
		{"source and unconfirmed", goodHead + `[[model]]
model = "M"
signalling = [{value = "SIP", source = "s", unconfirmed = true, note = "x"}]
`, "choose one"},
		{"unconfirmed without note", goodHead + `[[model]]
model = "M"
signalling = [{value = "SIP", unconfirmed = true}]
`, "without a note"},
		{"unknown source", goodHead + `[[model]]
model = "M"
signalling = [{value = "SIP", source = "nope"}]
`, `source "nope" is not in [sources]`},
		{"unknown key", goodHead + `[[model]]
model = "M"
colour = "red"
signalling = [{value = "SIP", source = "s"}]
`, "unknown keys: model.colour"},
		{"unknown fact key", goodHead + `[[model]]
model = "M"
signalling = [{value = "SIP", source = "s", page = 3}]
`, "unknown keys"},
		{"bad oui", goodHead + `[[model]]
model = "M"
ouis = [{value = "00-04-0D", source = "s"}]
`, "MAC prefix"},
		{"bad signalling", goodHead + `[[model]]
model = "M"
signalling = [{value = "IAX", source = "s"}]
`, "not one of"},
		{"text differs from hex", goodHead + `[[model]]
model = "M"
option60 = [{text = 'ab', hex = "616200", source = "s"}]
`, "does not match hex"},
		{"bad hex", goodHead + `[[model]]
model = "M"
option60 = [{hex = "6g", source = "s"}]
`, "hex"},
		{"bad option", goodHead + `[[model]]
model = "M"
options_read = [{value = 300, source = "s"}]
`, "outside 1..254"},
		{"source without place", `vendor = "V"
[sources.s]
title = "x"
[[model]]
model = "M"
signalling = [{value = "SIP", source = "s"}]
`, "needs url, or repo and path"},
		{"model without facts", goodHead + `[[model]]
model = "M"
`, "no facts"},
		{"duplicate model", goodHead + `[[model]]
model = "M"
signalling = [{value = "SIP", source = "s"}]
[[model]]
model = "m"
signalling = [{value = "SIP", source = "s"}]
`, "already defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadDir(writeTable(t, tc.body))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("loaded; want an error containing %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestRender(t *testing.T) {
	if got := Render([]byte("A\\\x00\xff")); got != `A\\\x00\xff` {
		t.Errorf("Render = %q", got)
	}
}

func TestModuleRootMissing(t *testing.T) {
	if _, err := ModuleRoot(t.TempDir()); err == nil {
		t.Error("found a module root above a temporary directory")
	}
}

// Vendors returns how many models each vendor has.
func (t Table) Vendors() map[string]int {
	n := map[string]int{}
	for _, m := range t.Models {
		n[m.Vendor]++
	}
	return n
}
