package phone

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRefuseFirmware: a phone told to refuse 4.1.3.0.6 downloads it,
// restarts on its old firmware, is offered it again and gives up after
// its restarts; the User-Agent of every boot still names the old version.
func TestRefuseFirmware(t *testing.T) {
	fs := newFileServer(t, map[string]string{"J100Supgrade.txt": j100Upgrade, "FW_S_J179_R4_1_3_0_6.bin": strings.Repeat("x", 5000)})
	fs.files["46xxsettings.txt"] = []byte(settingsFor(fs))
	m := lookup(t, "j179")
	env := testEnv(&fakeDHCP{options: map[uint8][]byte{242: fs.avayaOption()}})
	env.RefuseFirmware = "4.1.3.0.6"
	res := New(m, m.MAC([3]byte{1, 2, 3}), "2001").Run(context.Background(), env)
	if res.Firmware != "4.0.13.0.5" || res.Boots != 3 || res.State != Failed {
		t.Fatalf("result %+v; want failed on 4.0.13.0.5 after 3 boots", res)
	}
	downloads := 0
	for _, r := range fs.requests() {
		if strings.Contains(r, "GET FW_S_J179_R4_1_3_0_6.bin") {
			downloads++
		}
		if strings.Contains(r, "J100Supgrade.txt") && !strings.Contains(r, "J179-4.0.13.0.5") {
			t.Errorf("a boot reported another version: %s", r)
		}
	}
	if downloads != 3 {
		t.Errorf("%d downloads of the refused image, want one per boot (3)", downloads)
	}
}

// TestFlashSurvivesAPowerCycle: a phone restored from what another kept
// runs its firmware, asks for its address again and trusts its CA.
func TestFlashSurvivesAPowerCycle(t *testing.T) {
	fs := newFileServer(t, map[string]string{"J100Supgrade.txt": j100Upgrade, "FW_S_J179_R4_1_3_0_6.bin": strings.Repeat("x", 5000)})
	fs.files["46xxsettings.txt"] = []byte(settingsFor(fs))
	m := lookup(t, "j179")
	mac := m.MAC([3]byte{4, 5, 6})
	first := New(m, mac, "2001")
	if res := first.Run(context.Background(), testEnv(&fakeDHCP{options: map[uint8][]byte{242: fs.avayaOption()}})); res.Firmware != "4.1.3.0.6" {
		t.Fatalf("first run: %+v", res)
	}
	kept := first.Flash()
	again := New(m, mac, "2001")
	again.Restore(kept)
	d := &fakeDHCP{options: map[uint8][]byte{242: fs.avayaOption()}}
	res := again.Run(context.Background(), testEnv(d))
	if res.FirmwareBefore != "4.1.3.0.6" || res.Boots != 1 || res.TrustedCerts != 1 || res.State != Provisioned {
		t.Errorf("after the power cycle: %+v", res)
	}
	if len(d.acquired) != 1 || d.acquired[0] != kept.Addr {
		t.Errorf("DHCP asked for %v, want the kept %s", d.acquired, kept.Addr)
	}
}

// TestFetchBackoffMaxCapsTheWait: with a first wait of an hour capped at
// 10 ms, a phone whose firmware download keeps breaking gives up after
// its rounds instead of waiting out the hour.
func TestFetchBackoffMaxCapsTheWait(t *testing.T) {
	fs := newFileServer(t, map[string]string{"J100Supgrade.txt": j100Upgrade, "FW_S_J179_R4_1_3_0_6.bin": "xyz"})
	fs.files["46xxsettings.txt"] = []byte(settingsFor(fs))
	fs.short["FW_S_J179_R4_1_3_0_6.bin"] = true
	m := lookup(t, "j179")
	env := testEnv(&fakeDHCP{options: map[uint8][]byte{242: fs.avayaOption()}})
	env.FetchTries, env.FetchBackoff, env.FetchBackoffMax = 3, time.Hour, 10*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := New(m, m.MAC([3]byte{7, 8, 9}), "1").Run(ctx, env)
	if res.State != Failed || res.Step != StepFirmware || !strings.Contains(res.Reason, "after 3 rounds") {
		t.Fatalf("%s at %s: %s; want a firmware failure after 3 rounds", res.State, res.Step, res.Reason)
	}
}
