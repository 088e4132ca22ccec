package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/model"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/phone"
)

func TestStateKeepsPhonesAcrossRuns(t *testing.T) {
	dir, err := model.FindTable(".")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := model.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := cat.Lookup("9608")
	path := filepath.Join(t.TempDir(), "phones.json")
	a, b := phone.New(m, m.MAC([3]byte{1, 1, 1}), "1"), phone.New(m, m.MAC([3]byte{2, 2, 2}), "2")
	a.Restore(phone.Flash{Addr: netip.MustParseAddr("198.18.1.7"), Firmware: "7.1.15.0.4", AppName: "S96x1_SALBR7_1_15_0_4_r.tar"})
	if n, err := loadState(path, []*phone.Phone{a}); n != 0 || err != nil {
		t.Fatalf("a missing file: %d, %v", n, err)
	}
	if err := saveState(path, []*phone.Phone{a, b}); err != nil {
		t.Fatal(err)
	}
	// A later run with only the first phone keeps the second on file.
	a2 := phone.New(m, a.MAC, "1")
	if n, err := loadState(path, []*phone.Phone{a2}); n != 1 || err != nil {
		t.Fatalf("load: %d, %v", n, err)
	}
	if a2.Flash().Firmware != "7.1.15.0.4" || a2.Flash().Addr != netip.MustParseAddr("198.18.1.7") {
		t.Errorf("restored %+v", a2.Flash())
	}
	if err := saveState(path, []*phone.Phone{a2}); err != nil {
		t.Fatal(err)
	}
	b2 := phone.New(m, b.MAC, "2")
	if n, _ := loadState(path, []*phone.Phone{a2, b2}); n != 2 || b2.Flash().Firmware != m.Firmware {
		t.Errorf("the second phone was lost: %d restored, %+v", n, b2.Flash())
	}
	if err := os.WriteFile(path, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadState(path, []*phone.Phone{a2}); err == nil {
		t.Error("a broken file was read")
	}
}
