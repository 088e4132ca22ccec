package rollout

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning"
	"github.com/phoneprov/phoneprov/provisioning/script"
)

const (
	oldImage = "S96x1_SALBR7_1_2_0_14_r.tar"
	newImage = "S96x1_SALBR7_1_15_0_4_r.tar"
)

// holdSite is a generator over a file tree with the roll-outs wired in,
// as the appliance wires them.
type holdSite struct {
	t     *testing.T
	files string
	gen   *provisioning.Generator
	m     *Manager
	log   *bytes.Buffer
	reg   *prometheus.Registry
	dir   string
}

func openHoldSite(t *testing.T, files, dir string, cfg Config, fleet *fakePhones, now *time.Time) *holdSite {
	t.Helper()
	g, err := provisioning.New(provisioning.DefaultConfig(), provisioning.Options{FilesDir: files})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	reg := prometheus.NewRegistry()
	m, err := Open(context.Background(), cfg, Options{
		Dir: dir, Phones: fleet, Images: g.RolloutImages, Versions: g.FirmwareVersions,
		Logger: slog.New(slog.NewTextHandler(&buf, nil)), Now: func() time.Time { return *now }, Registry: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	g.SetRollouts(m)
	return &holdSite{t: t, files: files, gen: g, m: m, log: &buf, reg: reg, dir: dir}
}

// released is the released versions in the state file.
func (s *holdSite) released() map[string]string {
	s.t.Helper()
	st, err := ReadState(s.dir)
	if err != nil {
		s.t.Fatal(err)
	}
	return st.Released
}

func putImage(t *testing.T, files, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(files, name), []byte("fw"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// appnameFor is the APPNAME the phone at 198.18.1.<i+1> (a 9608) is named.
func (s *holdSite) appnameFor(i int) string {
	s.t.Helper()
	r, err := s.gen.Generate(context.Background(), "96x1Supgrade.txt", fileserve.Client{
		Addr: netip.AddrFrom4([4]byte{198, 18, 1, byte(i + 1)}), Local: netip.MustParseAddr("198.18.0.1"), Protocol: "https"})
	if err != nil {
		s.t.Fatal(err)
	}
	res, err := script.Run(script.Parse(r.Data), script.RunOptions{File: "96x1Supgrade.txt", Vars: map[string]string{"MODEL4": "9608"}})
	if err != nil {
		s.t.Fatal(err)
	}
	return res.Settings()["APPNAME"]
}

// seeNew waits (bounded) until the generator's catalogue holds the new
// image, then lets the roll-outs look at the tree as Run does.
func (s *holdSite) seeNew() {
	s.t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(5 * time.Second); ; {
		vs, err := s.gen.FirmwareVersions(ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		if len(vs) == 2 {
			break
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the catalogue never saw the new image: %+v", vs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.m.lookAtFirmware(ctx); err != nil {
		s.t.Fatal(err)
	}
}

// A version copied into the tree after the first look is held: no phone
// is offered it, it is logged once with the commands, and listed; the
// first look took what was there as released, and that survives a
// reopen.
func TestNewFirmwareHeldUntilRollout(t *testing.T) {
	files, dir := t.TempDir(), t.TempDir()
	putImage(t, files, oldImage)
	now := t0
	fleet := newFleet(10, now)
	s := openHoldSite(t, files, dir, DefaultConfig(), fleet, &now)
	if got := s.released(); got["96x1S"] != "7.1.2.0.14" {
		t.Fatalf("baseline %v", got)
	}
	putImage(t, files, newImage)
	s.seeNew()
	for i := range 10 {
		if got := s.appnameFor(i); got != oldImage {
			t.Fatalf("phone %d is offered %q while %s is held", i, got, newImage)
		}
	}
	held := s.m.Held()
	if len(held) != 1 || held[0].Version != "7.1.15.0.4" || held[0].Series != "96x1S" || held[0].Released != "7.1.2.0.14" {
		t.Fatalf("held %+v", held)
	}
	if !strings.Contains(s.log.String(), "new firmware held") || !strings.Contains(s.log.String(), "phoneprov rollout start 96x1S 7.1.15.0.4") {
		t.Errorf("no log line names the held version and the command:\n%s", s.log)
	}
	want := "# HELP phoneprov_firmware_held 1 for each firmware version in the file tree held until a roll-out or a release (hold_new_firmware).\n" +
		"# TYPE phoneprov_firmware_held gauge\nphoneprov_firmware_held{line=\"96x1S\",version=\"7.1.15.0.4\"} 1\n"
	if err := testutil.GatherAndCompare(s.reg, strings.NewReader(want), "phoneprov_firmware_held"); err != nil {
		t.Error(err)
	}
	n := strings.Count(s.log.String(), "new firmware held")
	if err := s.m.lookAtFirmware(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Count(s.log.String(), "new firmware held") != n {
		t.Error("the held version is logged at every look")
	}
	// A restart keeps the released version: still held.
	s2 := openHoldSite(t, files, dir, DefaultConfig(), fleet, &now)
	if got := s2.appnameFor(0); got != oldImage {
		t.Errorf("after a reopen: %q", got)
	}
}

// The first look ever takes every version present as released: a site
// that upgrades phoneprov with a new image already in the tree goes on
// offering it.
func TestFirstLookReleasesWhatIsThere(t *testing.T) {
	files, dir := t.TempDir(), t.TempDir()
	putImage(t, files, oldImage)
	putImage(t, files, newImage)
	// A state file from before the feature: roll-outs, no released record.
	if err := os.WriteFile(filepath.Join(dir, stateFile), []byte(`{"next_id":0,"rollouts":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	now := t0
	s := openHoldSite(t, files, dir, DefaultConfig(), newFleet(3, now), &now)
	if got := s.appnameFor(0); got != newImage {
		t.Errorf("first start: %q, want %q", got, newImage)
	}
	if len(s.m.Held()) != 0 {
		t.Errorf("held at the first start: %+v", s.m.Held())
	}
	st, err := ReadState(dir)
	if err != nil || st.Released["96x1S"] != "7.1.15.0.4" {
		t.Fatalf("saved %v, %v", st.Released, err)
	}
}

// A roll-out offers the held version to its canary only; finish releases
// it to every phone.
func TestFinishReleases(t *testing.T) {
	files, dir := t.TempDir(), t.TempDir()
	putImage(t, files, oldImage)
	now := t0
	s := openHoldSite(t, files, dir, DefaultConfig(), newFleet(10, now), &now)
	putImage(t, files, newImage)
	s.seeNew()
	r, err := s.m.Start(context.Background(), StartRequest{Series: "96x1S", Version: "7.1.15.0.4", Canary: Canary{Count: 2}, Waves: []float64{1}})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.appnameFor(0); got != newImage {
		t.Errorf("canary: %q", got)
	}
	if got := s.appnameFor(5); got != oldImage {
		t.Errorf("outside the canary: %q", got)
	}
	if h := s.m.Held(); len(h) != 1 || h[0].Rollout != r.ID {
		t.Errorf("held during the roll-out: %+v", h)
	}
	if _, err := s.m.Do(Finish, r.ID); err != nil {
		t.Fatal(err)
	}
	if got := s.released()["96x1S"]; got != "7.1.15.0.4" {
		t.Errorf("released after finish: %q", got)
	}
	for _, i := range []int{0, 5, 9} {
		if got := s.appnameFor(i); got != newImage {
			t.Errorf("phone %d after finish: %q", i, got)
		}
	}
	if len(s.m.Held()) != 0 {
		t.Errorf("still held: %+v", s.m.Held())
	}
}

// Abort keeps the released version: the phones not upgraded, and those
// outside the roll-out, are offered the old one, and the new is held.
func TestAbortKeepsReleased(t *testing.T) {
	files, dir := t.TempDir(), t.TempDir()
	putImage(t, files, oldImage)
	now := t0
	s := openHoldSite(t, files, dir, DefaultConfig(), newFleet(10, now), &now)
	putImage(t, files, newImage)
	s.seeNew()
	r, err := s.m.Start(context.Background(), StartRequest{Series: "96x1S", Version: "7.1.15.0.4", Canary: Canary{Count: 2}, Waves: []float64{1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.m.Do(Abort, r.ID); err != nil {
		t.Fatal(err)
	}
	if got := s.released()["96x1S"]; got != "7.1.2.0.14" {
		t.Errorf("released after abort: %q", got)
	}
	for _, i := range []int{0, 5} {
		if got := s.appnameFor(i); got != oldImage {
			t.Errorf("phone %d after abort: %q", i, got)
		}
	}
	if h := s.m.Held(); len(h) != 1 || h[0].Version != "7.1.15.0.4" {
		t.Errorf("held after abort: %+v", h)
	}
	// Release at once is refused while the aborted roll-out is in force.
	if _, err := s.m.Release(context.Background(), "96x1S", "7.1.15.0.4"); err == nil {
		t.Error("release accepted while a roll-out of the series is in force")
	}
	// Finishing the aborted roll-out ends it without releasing its version.
	if _, err := s.m.Do(Finish, r.ID); err != nil {
		t.Fatal(err)
	}
	if got := s.released()["96x1S"]; got != "7.1.2.0.14" {
		t.Errorf("released after finishing the aborted roll-out: %q", got)
	}
	if got := s.appnameFor(0); got != oldImage {
		t.Errorf("after finishing the aborted roll-out: %q", got)
	}
}

// Release makes a held version the released one at once, for a lab.
func TestReleaseAtOnce(t *testing.T) {
	files, dir := t.TempDir(), t.TempDir()
	putImage(t, files, oldImage)
	now := t0
	s := openHoldSite(t, files, dir, DefaultConfig(), newFleet(3, now), &now)
	putImage(t, files, newImage)
	s.seeNew()
	if _, err := s.m.Release(context.Background(), "96x1S", "7.1.99"); err == nil {
		t.Error("a version not in the tree released")
	}
	got, err := s.m.Release(context.Background(), "96x1S", "7.1.15.0.4")
	if err != nil || got["96x1S"] != "7.1.15.0.4" {
		t.Fatalf("%v %v", got, err)
	}
	if a := s.appnameFor(1); a != newImage {
		t.Errorf("after release: %q", a)
	}
	st, err := ReadState(dir)
	if err != nil || st.Released["96x1S"] != "7.1.15.0.4" {
		t.Fatalf("saved %v, %v", st.Released, err)
	}
}

// With hold_new_firmware off, a new image is offered to every phone at
// once, as before, and counts as released at the next look, so turning
// hold on later holds only what appears after.
func TestHoldOffOffersNewFirmware(t *testing.T) {
	files, dir := t.TempDir(), t.TempDir()
	putImage(t, files, oldImage)
	now := t0
	cfg := DefaultConfig()
	cfg.HoldNewFirmware = false
	s := openHoldSite(t, files, dir, cfg, newFleet(3, now), &now)
	putImage(t, files, newImage)
	s.seeNew()
	if got := s.appnameFor(0); got != newImage {
		t.Errorf("hold off: %q, want %q", got, newImage)
	}
	if len(s.m.Held()) != 0 {
		t.Errorf("held with hold off: %+v", s.m.Held())
	}
	if got := s.released()["96x1S"]; got != "7.1.15.0.4" {
		t.Errorf("released with hold off: %q", got)
	}
	cfg.HoldNewFirmware = true
	s.m.SetConfig(cfg)
	if got := s.appnameFor(0); got != newImage {
		t.Errorf("hold turned on: %q, want %q", got, newImage)
	}
}
