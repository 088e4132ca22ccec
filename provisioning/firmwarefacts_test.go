package provisioning

import "testing"

// Phones that name only their series and protocol (96x1, 46xx and 16xx
// User-Agents as the inventory records them) get a verdict too, and every
// version comes in one spelling (firmware.Canonical).
func TestNewestFirmwareBySeries(t *testing.T) {
	files := t.TempDir()
	for _, n := range []string{"S96x1_SALBR7_1_15_0_4_r.tar", "S96x1_HALBR6_8_5_04_V474.tar", "a46xxua2_8_3.bin",
		"ha1600ua1_3_12.bin", "FW_S_J179_R4_1_3_0_6.bin", "hb96xxua3_2_8.bin", "a20d01b2_9_1.bin"} {
		put(t, files, n, "fw")
	}
	g := newGen(t, DefaultConfig(), files)
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
		got, ok := g.NewestFirmware(tt.model)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NewestFirmware(%q) = %q %v, want %q %v", tt.model, got, ok, tt.want, tt.ok)
		}
	}
	if _, v, ok := g.FirmwareOf("S96x1_SALBR7_1_15_0_4_r.tar"); !ok || v != "7.1.15.0.4" {
		t.Errorf("FirmwareOf = %q %v, want the canonical 7.1.15.0.4", v, ok)
	}
}
