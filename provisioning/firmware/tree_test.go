package firmware

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Phones that name only their series and protocol (96x1, 46xx and 16xx
// User-Agents as the inventory records them) get a verdict too, and every
// version comes in one spelling (Canonical).
func TestNewestFirmwareBySeries(t *testing.T) {
	files := t.TempDir()
	touch(t, files, "S96x1_SALBR7_1_15_0_4_r.tar", "S96x1_HALBR6_8_5_04_V474.tar", "a46xxua2_8_3.bin",
		"ha1600ua1_3_12.bin", "FW_S_J179_R4_1_3_0_6.bin", "hb96xxua3_2_8.bin", "a20d01b2_9_1.bin")
	tree := NewTree(files, nil)
	for _, tt := range []struct {
		model, want string
		ok          bool
	}{
		{"J179", "4.1.3.0.6", true},
		{"96x1 SIP", "7.1.15.0.4", true},
		{"96x1 H.323", "6.8.5.4-v474", true},
		{"16xx H.323", "1.3.12", true},
		{"16xx", "1.3.12", true},
		{"4610", "2.8.3", true},
		{"46xx H.323", "", false}, // 4620/4621 get 2.9.1, the others 2.8.3: which applies is unknown
		{"96xx", "3.2.8", true},
		{"SIP12x0", "", false},
		{"", "", false},
	} {
		got, ok := tree.NewestFirmware(tt.model)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NewestFirmware(%q) = %q %v, want %q %v", tt.model, got, ok, tt.want, tt.ok)
		}
	}
	if _, v, ok := tree.FirmwareOf("S96x1_SALBR7_1_15_0_4_r.tar"); !ok || v != "7.1.15.0.4" {
		t.Errorf("FirmwareOf = %q %v, want the canonical 7.1.15.0.4", v, ok)
	}
}

// The catalogue answers from its last scan until TreeRecheck has passed,
// then sees what changed; new mappings take effect at once. A mapped file
// is what its mapping says, over its name.
func TestTreeStaysCurrent(t *testing.T) {
	base := t.TempDir()
	files := filepath.Join(base, "files")
	if err := os.Mkdir(files, 0o755); err != nil {
		t.Fatal(err)
	}
	touch(t, files, "FW_S_J179_R4_1_4_0_5.bin", "custom.bin")
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tree := NewTree(files, clock)
	first, err := tree.Catalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := tree.NewestFirmware("J179"); !ok || v != "4.1.4.0.5" {
		t.Fatalf("NewestFirmware(J179) = %q %v, want 4.1.4.0.5", v, ok)
	}
	// The tree goes away; within TreeRecheck nobody looks.
	if err := os.Rename(files, files+".moved"); err != nil {
		t.Fatal(err)
	}
	if again, err := tree.Catalog(context.Background()); err != nil || again != first {
		t.Fatalf("within TreeRecheck the catalogue looked at the tree: %v", err)
	}
	if err := os.Rename(files+".moved", files); err != nil {
		t.Fatal(err)
	}
	// A mapping takes effect at the next question.
	tree.SetMappings([]Mapping{{File: "custom.bin", Series: SeriesJ100, Models: []string{"J179"}, Version: mustVersion(t, "4.2.0.0.1")}})
	if _, v, ok := tree.FirmwareOf("custom.bin"); !ok || v != "4.2.0.0.1" {
		t.Errorf("FirmwareOf(custom.bin) after SetMappings = %q %v, want 4.2.0.0.1", v, ok)
	}
	// A new file is seen once TreeRecheck has passed.
	touch(t, files, "FW_S_J179_R4_3_0_0_2.bin")
	mu.Lock()
	now = now.Add(TreeRecheck)
	mu.Unlock()
	if v, ok := tree.NewestFirmware("J179"); !ok || v != "4.3.0.0.2" {
		t.Errorf("NewestFirmware(J179) after a new file = %q %v, want 4.3.0.0.2", v, ok)
	}
}

func mustVersion(t *testing.T, s string) Version {
	t.Helper()
	v, ok := ParseVersion(s)
	if !ok {
		t.Fatalf("ParseVersion(%q) failed", s)
	}
	return v
}
