package rollout

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/provisioning/inventory"
)

// fakePhones is an inventory of 96x1 SIP phones at 198.18.1.<i+1>.
type fakePhones struct{ phones []inventory.Phone }

func (f *fakePhones) List(inventory.Filter) []inventory.Phone { return f.phones }

func (f *fakePhones) MACAt(addr netip.Addr) (inventory.MAC, bool) {
	for _, p := range f.phones {
		for _, a := range p.Addrs {
			if a.Addr == addr {
				return p.MAC, true
			}
		}
	}
	return inventory.MAC{}, false
}

func newFleet(n int, now time.Time) *fakePhones {
	f := &fakePhones{}
	for i := range n {
		mac := inventory.MAC{0, 0x1b, 0x4f, 0, byte(i / 256), byte(i % 256)}
		f.phones = append(f.phones, inventory.Phone{
			MAC: mac, Model: "9608", Series: "96x1S", Firmware: "7.1.2.0.14", FirmwareFrom: "user-agent",
			LastSeen: now, State: inventory.StateOutdated,
			Addrs: []inventory.Address{{Addr: netip.AddrFrom4([4]byte{198, 18, 1, byte(i + 1)})}},
		})
	}
	return f
}

func openManager(t *testing.T, dir string, phones Phones, now *time.Time) *Manager {
	t.Helper()
	m, err := Open(context.Background(), DefaultConfig(), Options{
		Dir: dir, Phones: phones,
		Images: func(context.Context, string, string, string) ([]string, error) {
			return []string{"S96x1_SALBR7_1_15_0_4_r.tar"}, nil
		},
		Now: func() time.Time { return *now },
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// The plans follow the state; the state survives a reopen of the folder
// exactly (what a restart after kill -9 reads: every change is written
// before it is acknowledged).
func TestManagerPlansAndReopen(t *testing.T) {
	dir := t.TempDir()
	now := t0
	fleet := newFleet(20, now)
	m := openManager(t, dir, fleet, &now)
	if p := m.UpgradePlan(netip.MustParseAddr("198.18.1.1"), ""); p != nil {
		t.Fatalf("plan without a roll-out: %+v", p)
	}
	r, err := m.Start(context.Background(), StartRequest{Series: "96x1s", Version: "7.1.15", Canary: Canary{Count: 2}, Waves: []float64{0.5, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Series != "96x1S" || len(r.Members) != 2 {
		t.Fatalf("%+v", r)
	}
	in := m.UpgradePlan(netip.MustParseAddr("198.18.1.1"), "")
	out := m.UpgradePlan(netip.MustParseAddr("198.18.1.10"), "")
	unknown := m.UpgradePlan(netip.MustParseAddr("198.18.9.9"), "")
	if len(in.Offer) != 1 || len(out.Offer) != 0 || len(out.Withhold) != 1 || unknown != out || in.Key == out.Key {
		t.Fatalf("in %+v out %+v unknown %+v", in, out, unknown)
	}
	if p := m.UpgradePlan(netip.Addr{}, "001b4f000001"); p != in {
		t.Error("the plan by MAC differs from the plan by address")
	}
	// The canary fetches and comes back on the old version: braked.
	now = t0.Add(time.Minute)
	for i := range 2 {
		p := &fleet.phones[i]
		p.Files = []inventory.Fetch{
			{Time: now, Name: "96x1Supgrade.txt", Kind: inventory.KindScript, Status: 200},
			{Time: now.Add(time.Second), Name: "S96x1_SALBR7_1_15_0_4_r.tar", Kind: inventory.KindFirmware, Status: 200, Bytes: 9, Size: 9},
		}
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	now = t0.Add(2 * time.Minute)
	for i := range 2 {
		p := &fleet.phones[i]
		p.Files = append(p.Files, inventory.Fetch{Time: now, Name: "96x1Supgrade.txt", Kind: inventory.KindScript, Status: 200})
		p.LastScript = &p.Files[len(p.Files)-1]
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	got := m.List()[0]
	if got.Status != StatusBraked || got.Counts()[PhoneFailed] != 2 {
		t.Fatalf("%s %v", got.Status, got.Counts())
	}
	if p := m.UpgradePlan(netip.MustParseAddr("198.18.1.1"), ""); len(p.Offer) != 0 {
		t.Error("a failed canary phone is still offered the image")
	}
	// Reopen: the same state, the same plans.
	m2 := openManager(t, dir, fleet, &now)
	again := m2.List()[0]
	if again.Status != StatusBraked || again.Counts()[PhoneFailed] != 2 || again.Reason != got.Reason {
		t.Fatalf("after reopen: %s %v", again.Status, again.Counts())
	}
	if _, err := m2.Do(Resume, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := m2.Do(Finish, r.ID); err != nil {
		t.Fatal(err)
	}
	if p := m2.UpgradePlan(netip.MustParseAddr("198.18.1.10"), ""); p != nil {
		t.Error("a finished roll-out still plans")
	}
	st, err := ReadState(dir)
	if err != nil || st.Rollouts[0].Status != StatusFinished {
		t.Fatalf("on disk: %v %v", st, err)
	}
}

// countingPhones counts the listings of the inventory.
type countingPhones struct {
	*fakePhones
	lists int
}

func (c *countingPhones) List(f inventory.Filter) []inventory.Phone {
	c.lists++
	return c.fakePhones.List(f)
}

// Check copies no inventory while no roll-out is in force: a listing is a
// copy of every phone's record, garbage the size of the fleet each interval.
func TestCheckListsNothingWithoutARolloutInForce(t *testing.T) {
	now := t0
	phones := &countingPhones{fakePhones: newFleet(20, now)}
	m := openManager(t, t.TempDir(), phones, &now)
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	if phones.lists != 0 {
		t.Fatalf("Check listed the inventory %d times with no roll-out in force", phones.lists)
	}
	if _, err := m.Start(context.Background(), StartRequest{Series: "96x1s", Version: "7.1.15", Canary: Canary{Count: 2}, Waves: []float64{0.5, 1}}); err != nil {
		t.Fatal(err)
	}
	before := phones.lists
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	if phones.lists != before+1 {
		t.Fatalf("Check listed the inventory %d times with a roll-out in force, want once", phones.lists-before)
	}
}
