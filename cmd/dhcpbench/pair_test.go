package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/dhcpd/ha/kealab"
)

// testBoxes are box A and B of the default plan, on the loopback link
// (kea-dhcp4 -t wants an interface that exists).
func testBoxes() (a, b pairBox) {
	l := &pairLab{aIf: "lo", bIf: "lo"}
	return l.boxes(defaultPlan())
}

// The phoneprov boxes' configurations load as phoneprov loads them: box A
// the primary and B the standby of the same pair on port 8001 with the
// bench's delays; alone, no pair.
func TestPhoneprovPairConfig(t *testing.T) {
	p := defaultPlan()
	a, b := testBoxes()
	for _, box := range []pairBox{a, b} {
		dir := t.TempDir()
		ln, err := phoneprovPairConfig(p, box, dir, false)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(ln.ConfigPath)
		if err != nil {
			t.Fatalf("%s: %v", box.name, err)
		}
		h := cfg.DHCP.HA
		if !h.Enabled || h.ThisServerName != box.name || h.MaxUnackedClients != 0 || h.HeartbeatDelay != pairHeartbeat ||
			h.MaxResponseDelay != pairMaxResponse || len(h.Peers) != 2 ||
			h.Peers[0].URL != "http://198.18.0.1:8001/" || h.Peers[0].Role != "primary" ||
			h.Peers[1].URL != "http://198.18.0.3:8001/" || h.Peers[1].Role != "standby" {
			t.Errorf("%s: [dhcp.ha] %+v", box.name, h)
		}
		if s := cfg.DHCP.Subnets; len(s) != 1 || s[0].Interface != box.iface || s[0].Routers[0] != box.addr.String() {
			t.Errorf("%s: subnets %+v", box.name, s)
		}
	}
	ln, err := phoneprovPairConfig(p, a, t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := config.Load(ln.ConfigPath); err != nil || cfg.DHCP.HA.Enabled {
		t.Errorf("alone: %v, ha %+v", err, cfg.DHCP.HA)
	}
}

// A Kea box of the pair is multi-threaded and loads lease_cmds then the
// HA hook on its dedicated listener; alone it loads no hook. With
// kea-dhcp4 and its hooks installed, kea-dhcp4 -t accepts both.
func TestKeaPairConfig(t *testing.T) {
	p := defaultPlan()
	a, _ := testBoxes()
	hooks := "/hooks"
	if dir, err := kealab.HookDir(); err == nil {
		hooks = dir
	}
	for _, alone := range []bool{false, true} {
		dir := t.TempDir()
		ln, err := keaPairConfig(p, a, dir, hooks, alone)
		if err != nil {
			t.Fatal(err)
		}
		text, err := os.ReadFile(ln.ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		var conf struct {
			Dhcp4 struct {
				MT struct {
					Enable bool `json:"enable-multi-threading"`
				} `json:"multi-threading"`
				Hooks []struct {
					Library    string `json:"library"`
					Parameters struct {
						HA []struct {
							Name  string `json:"this-server-name"`
							Mode  string `json:"mode"`
							Delay int64  `json:"heartbeat-delay"`
							MT    struct {
								Enable    bool `json:"enable-multi-threading"`
								Dedicated bool `json:"http-dedicated-listener"`
							} `json:"multi-threading"`
							Peers []struct{ Name, URL, Role string } `json:"peers"`
						} `json:"high-availability"`
					} `json:"parameters"`
				} `json:"hooks-libraries"`
			}
		}
		if err := json.Unmarshal(text, &conf); err != nil {
			t.Fatal(err)
		}
		d := conf.Dhcp4
		if !d.MT.Enable {
			t.Errorf("alone %v: the server is not multi-threaded", alone)
		}
		if alone {
			if len(d.Hooks) != 0 {
				t.Errorf("alone: hooks %+v", d.Hooks)
			}
		} else if len(d.Hooks) != 2 || filepath.Base(d.Hooks[0].Library) != "libdhcp_lease_cmds.so" ||
			filepath.Base(d.Hooks[1].Library) != "libdhcp_ha.so" || len(d.Hooks[1].Parameters.HA) != 1 {
			t.Errorf("hooks %+v", d.Hooks)
		} else if h := d.Hooks[1].Parameters.HA[0]; h.Name != "box-a" || h.Mode != "hot-standby" || h.Delay != 500 ||
			!h.MT.Enable || !h.MT.Dedicated || len(h.Peers) != 2 || h.Peers[1].URL != "http://198.18.0.3:8001/" {
			t.Errorf("high-availability %+v", h)
		}
		if _, err := exec.LookPath("kea-dhcp4"); err != nil || hooks == "/hooks" {
			continue
		}
		cmd := exec.Command("kea-dhcp4", "-t", ln.ConfigPath)
		cmd.Env = append(os.Environ(), ln.Env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("alone %v: kea-dhcp4 -t: %v\n%s", alone, err, strings.TrimSpace(out.String()))
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("kea-dhcp4 -t took over 30 s")
		}
	}
}

// The report's table gives each setup's best rate, its CPU per DORA and
// the failover time.
func TestPairReportTable(t *testing.T) {
	r := &pairReport{MaxLoss: 0.01, Runs: []pairRun{
		{Setup: pairSetup{Name: "phoneprov alone", Alone: true}, Best: 0,
			Trials: []pairTrial{{Rate: 1000, Done: 1000, CPUA: 600 * time.Millisecond}, {Rate: 2000, Done: 1500, Loss: 0.25}}},
		{Setup: pairSetup{Name: "kea pair", Kea: true}, Best: 0, Failover: 2030 * time.Millisecond,
			Trials: []pairTrial{{Rate: 500, Done: 500, CPUA: 750 * time.Millisecond, CPUB: 300 * time.Millisecond}}},
		{Setup: pairSetup{Name: "phoneprov pair"}, Best: 0, Failover: 1980 * time.Millisecond, Stopped: "6000/s would run the pool of 65279 addresses out",
			Trials: []pairTrial{{Rate: 4000, Done: 4000, CPUA: 800 * time.Millisecond, CPUB: 520 * time.Millisecond}}},
	}}
	var b strings.Builder
	r.table(&b, "")
	got := strings.Join(strings.Fields(b.String()), " ")
	for _, want := range []string{
		"phoneprov alone 1000 1000 200 - -",
		"kea pair 500 500 500 200 2.03s",
		"phoneprov alone 2000 1500 25.00 %",
		"phoneprov pair 4000 4000 67 43 1.98s",
		"phoneprov pair search stopped: 6000/s would run the pool",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
