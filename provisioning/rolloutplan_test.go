package provisioning

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning/firmware"
	"github.com/phoneprov/phoneprov/provisioning/script"
)

// fixedPlans answers a plan per address, or per MAC when one is given.
type fixedPlans struct {
	byAddr map[netip.Addr]*UpgradePlan
	byMAC  map[string]*UpgradePlan
	other  *UpgradePlan
}

func (f fixedPlans) UpgradePlan(addr netip.Addr, mac string) *UpgradePlan {
	if p, ok := f.byMAC[mac]; ok && mac != "" {
		return p
	}
	if p, ok := f.byAddr[addr]; ok {
		return p
	}
	return f.other
}

func appname(t *testing.T, data []byte, vars map[string]string) string {
	t.Helper()
	res, err := script.Run(script.Parse(data), script.RunOptions{File: "96x1Supgrade.txt", Vars: vars})
	if err != nil {
		t.Fatal(err)
	}
	return res.Settings()["APPNAME"]
}

// A phone in a roll-out's wave is named the new image; one outside it,
// and every model the roll-out does not target, the image it would get
// without the new one; the answers are cached per plan, not mixed up.
func TestUpgradeScriptPerPhoneInAndOutOfWave(t *testing.T) {
	files := t.TempDir()
	const a, b = "S96x1_SALBR7_1_2_0_14_r.tar", "S96x1_SALBR7_1_15_0_4_r.tar"
	put(t, files, a, "fw")
	put(t, files, b, "fw")
	in := netip.MustParseAddr("198.18.1.20")
	out := netip.MustParseAddr("198.18.1.21")
	withhold := []string{b}
	plans := fixedPlans{
		byAddr: map[netip.Addr]*UpgradePlan{in: {Key: "1/r1", Withhold: withhold, Offer: []string{b}, OfferModels: []string{"9608"}, Note: "roll-out 1, wave 0"}},
		byMAC:  map[string]*UpgradePlan{"001b4f000001": {Key: "1/r1", Withhold: withhold, Offer: []string{b}, OfferModels: []string{"9608"}, Note: "roll-out 1, wave 0"}},
		other:  &UpgradePlan{Key: "1", Withhold: withhold},
	}
	g, err := New(DefaultConfig(), Options{FilesDir: files, Rollouts: plans})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	get := func(addr netip.Addr) []byte {
		r, err := g.Generate(ctx, "96x1Supgrade.txt", fileserve.Client{Addr: addr, Local: local, Protocol: "https"})
		if err != nil {
			t.Fatal(err)
		}
		return r.Data
	}
	for range 2 { // the second round is served from the cache
		if got := appname(t, get(in), map[string]string{"MODEL4": "9608"}); got != b {
			t.Errorf("9608 in the wave gets %q, want %q", got, b)
		}
		if got := appname(t, get(out), map[string]string{"MODEL4": "9608"}); got != a {
			t.Errorf("9608 outside the wave gets %q, want %q", got, a)
		}
		if got := appname(t, get(in), map[string]string{"MODEL4": "9611"}); got != a {
			t.Errorf("9611 (not targeted) gets %q, want %q", got, a)
		}
	}
	r, err := g.Render(ctx, "96x1Supgrade.txt", fileserve.Client{Local: local}, "00:1B:4F:00:00:01")
	if err != nil {
		t.Fatal(err)
	}
	if got := appname(t, r.Data, map[string]string{"MODEL4": "9608"}); got != b {
		t.Errorf("render --mac of a wave member: %q, want %q", got, b)
	}
	r, err = g.Render(ctx, "96x1Supgrade.txt", fileserve.Client{Local: local}, "00:1B:4F:00:00:02")
	if err != nil {
		t.Fatal(err)
	}
	if got := appname(t, r.Data, map[string]string{"MODEL4": "9608"}); got != a {
		t.Errorf("render --mac of another phone: %q, want %q", got, a)
	}
	// Without a roll-out, the newest is offered to every phone.
	plain := newGen(t, DefaultConfig(), files)
	if got := appname(t, []byte(gen(t, plain, "96x1Supgrade.txt")), map[string]string{"MODEL4": "9608"}); got != b {
		t.Errorf("no roll-out: %q, want %q", got, b)
	}
}

// A pin loses to the roll-out for a phone in the wave, and a pinned file
// the roll-out withholds is named to nobody else.
func TestRolloutPlanAndPins(t *testing.T) {
	files := t.TempDir()
	const a, b = "S96x1_SALBR7_1_2_0_14_r.tar", "S96x1_SALBR7_1_15_0_4_r.tar"
	put(t, files, a, "fw")
	put(t, files, b, "fw")
	cfg := DefaultConfig()
	cfg.Pin = map[string]string{"9608": a}
	in := netip.MustParseAddr("198.18.1.20")
	plans := fixedPlans{byAddr: map[netip.Addr]*UpgradePlan{in: {Key: "r", Withhold: []string{b}, Offer: []string{b}, Note: "roll-out"}}}
	g, err := New(cfg, Options{FilesDir: files, Rollouts: plans})
	if err != nil {
		t.Fatal(err)
	}
	r, err := g.Generate(context.Background(), "96x1Supgrade.txt", fileserve.Client{Addr: in, Local: local})
	if err != nil {
		t.Fatal(err)
	}
	if got := appname(t, r.Data, map[string]string{"MODEL4": "9608"}); got != b {
		t.Errorf("pinned model in the wave gets %q, want %q", got, b)
	}
}

// New firmware a plan holds (newer than the version released for its
// line) is named to no phone: the newest released one is, and the
// script's comment names the held file. A roll-out's offer and a pin
// still name it; without Released the newest is named as before.
func TestHeldFirmwareNamedToNoPhone(t *testing.T) {
	files := t.TempDir()
	const a, b = "S96x1_SALBR7_1_2_0_14_r.tar", "S96x1_SALBR7_1_15_0_4_r.tar"
	put(t, files, a, "fw")
	put(t, files, b, "fw")
	released := func(v string) map[string]firmware.Version {
		pv, ok := firmware.ParseVersion(v)
		if !ok {
			t.Fatal(v)
		}
		return map[string]firmware.Version{"96x1S": pv}
	}
	in := netip.MustParseAddr("198.18.1.20")
	plans := fixedPlans{
		byAddr: map[netip.Addr]*UpgradePlan{in: {Key: "r", Offer: []string{b}, Note: "roll-out 1", Released: released("7.1.2.0.14")}},
		other:  &UpgradePlan{Key: "o", Released: released("7.1.2.0.14")},
	}
	g, err := New(DefaultConfig(), Options{FilesDir: files, Rollouts: plans})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	get := func(g *Generator, addr netip.Addr) []byte {
		t.Helper()
		r, err := g.Generate(ctx, "96x1Supgrade.txt", fileserve.Client{Addr: addr, Local: local, Protocol: "https"})
		if err != nil {
			t.Fatal(err)
		}
		return r.Data
	}
	out := get(g, netip.MustParseAddr("198.18.1.21"))
	if got := appname(t, out, map[string]string{"MODEL4": "9608"}); got != a {
		t.Errorf("held: 9608 gets %q, want the released %q", got, a)
	}
	if !strings.Contains(string(out), "held until a roll-out releases it: "+b) {
		t.Errorf("the script does not say what is held:\n%s", out)
	}
	if got := appname(t, get(g, in), map[string]string{"MODEL4": "9608"}); got != b {
		t.Errorf("offered by a roll-out: %q, want %q", got, b)
	}
	// Released is the newer one: nothing held.
	plans.other = &UpgradePlan{Key: "o2", Released: released("7.1.15.0.4")}
	g2, err := New(DefaultConfig(), Options{FilesDir: files, Rollouts: plans})
	if err != nil {
		t.Fatal(err)
	}
	if got := appname(t, get(g2, netip.MustParseAddr("198.18.1.21")), map[string]string{"MODEL4": "9608"}); got != b {
		t.Errorf("released: %q, want %q", got, b)
	}
	// No version released for the line: no APPNAME at all.
	plans.other = &UpgradePlan{Key: "o3", Released: map[string]firmware.Version{}}
	g3, err := New(DefaultConfig(), Options{FilesDir: files, Rollouts: plans})
	if err != nil {
		t.Fatal(err)
	}
	if got := appname(t, get(g3, netip.MustParseAddr("198.18.1.21")), map[string]string{"MODEL4": "9608"}); got != "" {
		t.Errorf("nothing released: %q, want none", got)
	}
	// A pin names a held file: the operator chose it.
	cfg := DefaultConfig()
	cfg.Pin = map[string]string{"9608": b}
	plans.other = &UpgradePlan{Key: "o4", Released: released("7.1.2.0.14")}
	g4, err := New(cfg, Options{FilesDir: files, Rollouts: plans})
	if err != nil {
		t.Fatal(err)
	}
	if got := appname(t, get(g4, netip.MustParseAddr("198.18.1.21")), map[string]string{"MODEL4": "9608"}); got != b {
		t.Errorf("pinned to the held file: %q, want %q", got, b)
	}
}

// FirmwareVersions lists the versions in the tree by line, oldest first,
// the dual series by protocol.
func TestFirmwareVersions(t *testing.T) {
	files := t.TempDir()
	put(t, files, "S96x1_SALBR7_1_15_0_4_r.tar", "fw")
	put(t, files, "S96x1_SALBR7_1_2_0_14_r.tar", "fw")
	g := newGen(t, DefaultConfig(), files)
	vs, err := g.FirmwareVersions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Line != "96x1S" || vs[0].Version.String() != "7.1.2.0.14" || vs[1].Version.String() != "7.1.15.0.4" ||
		len(vs[1].Files) != 1 || vs[1].Files[0] != "S96x1_SALBR7_1_15_0_4_r.tar" {
		t.Fatalf("%+v", vs)
	}
	if got := ReleaseLine(firmware.Series96xx, firmware.SIP); got != "96xx/sip" {
		t.Errorf("dual series line %q", got)
	}
}

// countedPlans counts how often a plan is asked for.
type countedPlans struct {
	fixedPlans
	asked *int
}

func (c countedPlans) UpgradePlan(addr netip.Addr, mac string) *UpgradePlan {
	*c.asked++
	return c.fixedPlans.UpgradePlan(addr, mac)
}

// TestOnlyUpgradeScriptsAskForAPlan: the settings file is the same for
// phones in and out of a wave, so it asks for no plan and is cached once;
// an upgrade script asks.
func TestOnlyUpgradeScriptsAskForAPlan(t *testing.T) {
	files := t.TempDir()
	put(t, files, "S96x1_SALBR7_1_15_0_4_r.tar", "fw")
	in, out := netip.MustParseAddr("198.18.1.20"), netip.MustParseAddr("198.18.1.21")
	asked := 0
	plans := countedPlans{fixedPlans{
		byAddr: map[netip.Addr]*UpgradePlan{in: {Key: "1/r1", Offer: []string{"S96x1_SALBR7_1_15_0_4_r.tar"}, OfferModels: []string{"9608"}}},
		other:  &UpgradePlan{Key: "1"},
	}, &asked}
	g, err := New(DefaultConfig(), Options{FilesDir: files, Rollouts: plans})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := g.Generate(ctx, "46xxsettings.txt", fileserve.Client{Addr: in})
	if err != nil {
		t.Fatal(err)
	}
	b, err := g.Generate(ctx, "46xxsettings.txt", fileserve.Client{Addr: out})
	if err != nil {
		t.Fatal(err)
	}
	if asked != 0 || a != b {
		t.Errorf("settings: %d plans asked for, one shared copy %v; want 0 and true", asked, a == b)
	}
	if _, err := g.Generate(ctx, "96x1Supgrade.txt", fileserve.Client{Addr: in}); err != nil {
		t.Fatal(err)
	}
	if asked != 1 {
		t.Errorf("upgrade script: %d plans asked for, want 1", asked)
	}
}
