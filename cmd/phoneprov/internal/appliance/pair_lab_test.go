package appliance

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/deploy/netlab"
)

// pairServiceConfig is haConfig plus the other half of the service: box
// B takes the files it does not have from box A through the upstream
// relay. Backups are on by default and copied to the partner.
func (l *haLab) pairServiceConfig(t *testing.T, name, addr, ifname string) string {
	t.Helper()
	p := l.haConfig(t, name, addr, ifname, fastHA)
	if name == "box-b" {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteString("[provisioning.relay]\nupstreams = [\"http://" + haAddrA + "/\"]\nfresh_for = \"1s\"\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// curlIn runs curl in ns and returns its output (status line last with
// -w), bounded to 10 s.
func curlIn(t *testing.T, ns *netlab.Namespace, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := ns.Command(ctx, "curl", append([]string{"-s", "-m", "5"}, args...)...).Output()
	if err != nil {
		t.Logf("curl %v: %v", args, err)
	}
	return string(out)
}

// TestPairServesTheSameFilesLab: two phoneprovs as a pair serve one
// service. A phone's backup PUT to A is copied to B, where a phone
// restoring from B finds it; B serves A's file tree through its upstream
// relay; each box's status API shows the pair.
func TestPairServesTheSameFilesLab(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	l := newHALab(t)
	bin := phoneprovBinary(t)
	cfgA := l.pairServiceConfig(t, "box-a", haAddrA, l.aIf)
	cfgB := l.pairServiceConfig(t, "box-b", haAddrB, l.bIf)
	// The operator's file tree lives on A only.
	for name, body := range map[string]string{"46xxspecials.txt": "SET SIPDOMAIN pair.example\n", "ringtones.txt": "pair ringtones\n"} {
		if err := os.WriteFile(filepath.Join(filepath.Dir(cfgA), "data", "files", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	startBox(t, l.a, bin, cfgA, "box-a")
	startBox(t, l.b, bin, cfgB, "box-b")
	l.waitState(t, haAddrA, "hot-standby", 30*time.Second)
	l.waitState(t, haAddrB, "hot-standby", 30*time.Second)

	// A phone backs its settings up to A.
	const ua = "AVAYA/J179-4.0.13.0.6"
	out := curlIn(t, l.cli, "-A", ua, "-X", "PUT", "--data-binary", "SPEEDDIAL=1234", "-w", "%{http_code}",
		"http://"+haAddrA+"/backup/1234_96xxdata.txt")
	if out != "201" {
		t.Fatalf("PUT to A: %q", out)
	}
	// It appears on B (bounded wait), and a phone restoring from B gets it.
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got = curlIn(t, l.cli, "-A", ua, "http://"+haAddrB+"/backup/1234_96xxdata.txt"); got == "SPEEDDIAL=1234" {
			break
		}
	}
	if got != "SPEEDDIAL=1234" {
		t.Fatalf("restore from B: %q", got)
	}
	// The copy is stored as an upload is: atomically, in B's data folder.
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(cfgB), "data", "backup", "1234_96xxdata.txt")); err != nil || string(b) != "SPEEDDIAL=1234" {
		t.Errorf("B's backup file: %q %v", b, err)
	}
	metricsB := curlIn(t, l.b, "http://127.0.0.1:9167/metrics")
	metricsA := curlIn(t, l.a, "http://127.0.0.1:9167/metrics")
	for _, want := range []string{"phoneprov_backup_replica_received_total 1", `phoneprov_ha_state{state="hot_standby"} 1`, "phoneprov_ha_partner_in_touch 1"} {
		if !strings.Contains(metricsB, want) {
			t.Errorf("B's metrics lack %q", want)
		}
	}
	if !strings.Contains(metricsA, "phoneprov_backup_replicated_total 1") {
		t.Error("A's metrics lack phoneprov_backup_replicated_total 1")
	}

	// B serves A's files through the relay; the generated settings are
	// B's own (they name B first).
	if got := curlIn(t, l.cli, "-A", ua, "http://"+haAddrB+"/46xxspecials.txt"); got != "SET SIPDOMAIN pair.example\n" {
		t.Errorf("B's 46xxspecials.txt does not come from A: %q", got)
	}
	if got := curlIn(t, l.cli, "-A", ua, "http://"+haAddrB+"/ringtones.txt"); got != "pair ringtones\n" {
		t.Errorf("B's ringtones.txt does not come from A: %q", got)
	}

	// Each box's API shows the pair.
	for _, box := range []struct {
		ns            *netlab.Namespace
		role, partner string
	}{{l.a, "primary", "box-b"}, {l.b, "standby", "box-a"}} {
		var v struct {
			Enabled bool   `json:"enabled"`
			Role    string `json:"role"`
			State   string `json:"state"`
			Partner struct {
				Name      string `json:"name"`
				LastState string `json:"last_state"`
				InTouch   bool   `json:"in_touch"`
			} `json:"partner"`
		}
		// What a box knows of its partner is as old as the last heartbeat
		// (500 ms here): poll, bounded.
		ok, raw := false, ""
		for deadline := time.Now().Add(5 * time.Second); !ok && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			raw = curlIn(t, box.ns, "http://127.0.0.1:9167/api/ha")
			err := json.Unmarshal([]byte(raw), &v)
			ok = err == nil && v.Enabled && v.Role == box.role && v.State == "hot-standby" &&
				v.Partner.Name == box.partner && v.Partner.LastState == "hot-standby" && v.Partner.InTouch
		}
		if !ok {
			t.Errorf("%s's /api/ha: %s", box.role, raw)
		}
	}
}
