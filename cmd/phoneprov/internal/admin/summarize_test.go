package admin

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/provisioning/inventory"
)

// Models with the most phones come first and unidentified phones last;
// within a model the newest firmware present leads.
func TestSummarizeOrdersModelsAndFirmware(t *testing.T) {
	phone := func(model, fw string, st inventory.State) inventory.Phone {
		return inventory.Phone{Model: model, Firmware: fw, State: st}
	}
	newest := func(model string) (string, bool) {
		return map[string]string{"J179": "4.1.3.0.6"}[model], model == "J179"
	}
	f := summarize([]inventory.Phone{
		phone("", "", inventory.StateDiscovered),
		phone("J139", "4.0.0.0.1", inventory.StateOutdated),
		phone("J179", "4.0.0.0.9", inventory.StateOutdated),
		phone("J179", "4.0.0.0.9", inventory.StateFetching),
		phone("J179", "4.1.3.0.6", inventory.StateUpToDate),
	}, newest)
	if f.Phones != 5 || f.UpToDate != 1 {
		t.Fatalf("phones %d, up to date %d", f.Phones, f.UpToDate)
	}
	var order []string
	for _, m := range f.Models {
		order = append(order, fmt.Sprintf("%q:%d", m.Model, m.Phones))
	}
	if got := strings.Join(order, " "); got != `"J179":3 "J139":1 "":1` {
		t.Errorf("model order %s", got)
	}
	j179 := f.Models[0]
	if j179.UpToDate != 1 || j179.Newest != "4.1.3.0.6" || len(j179.Firmware) != 2 ||
		j179.Firmware[0] != (firmwareCount{Version: "4.1.3.0.6", Phones: 1, Newest: true}) ||
		j179.Firmware[1] != (firmwareCount{Version: "4.0.0.0.9", Phones: 2}) {
		t.Errorf("J179: %+v", j179)
	}
	if len(f.States) != len(inventory.AllStates()) || f.States[0].State != inventory.StateStale {
		t.Errorf("states %+v", f.States)
	}
	if got := percent(2, 3); got != 66 {
		t.Errorf("percent(2, 3) = %d", got)
	}
	now := time.Now()
	for d, want := range map[time.Duration]string{5 * time.Second: "5s ago", 3 * time.Minute: "3m ago", 5 * time.Hour: "5h ago", 72 * time.Hour: "3d ago"} {
		if got := ago(now, now.Add(-d)); got != want {
			t.Errorf("ago(%s) = %s, want %s", d, got, want)
		}
	}
}

// The roll-out view has a row for every Avaya series present, phones known
// by their User-Agent and by their upgrade script alike, with the newest
// version present for it and the share running it; a series the tree has
// no firmware for says so.
func TestSummarizeRollsOutBySeries(t *testing.T) {
	phone := func(series, model, fw string, st inventory.State) inventory.Phone {
		return inventory.Phone{Series: series, Model: model, Firmware: fw, State: st}
	}
	newest := func(model string) (string, bool) {
		v, ok := map[string]string{"J179": "4.1.3.0.6", "J139": "4.1.2.0.1", "96x1 SIP": "7.1.15.0.4", "46xx": "2.8.3"}[model]
		return v, ok
	}
	f := summarize([]inventory.Phone{
		phone("96x1S", "96x1 SIP", "7.1.15.0.4", inventory.StateUpToDate), // User-Agent
		phone("96x1S", "96x1 SIP", "7.1.15.0.4", inventory.StateUpToDate), // upgrade script, then firmware
		phone("96x1S", "96x1 SIP", "", inventory.StateFetching),
		phone("", "46xx", "2.8.3", inventory.StateUpToDate), // known by its firmware only
		phone("16xx", "16xx", "", inventory.StateNoFirmware),
		phone("96x1H", "96x1 H.323", "", inventory.StateNoFirmware),
		phone("J100", "J179", "4.1.3.0.6", inventory.StateUpToDate),
		phone("J100", "J139", "4.1.2.0.1", inventory.StateUpToDate),
		phone("", "VVX410", "", inventory.StateDiscovered), // no series
	}, newest)
	var got []string
	for _, r := range f.Series {
		got = append(got, fmt.Sprintf("%s %d/%d newest=%q varies=%v nothing=%v", r.Series, r.UpToDate, r.Phones, r.Newest, r.Varies, r.NothingOffered()))
	}
	want := []string{
		`96x1 SIP 2/3 newest="7.1.15.0.4" varies=false nothing=false`,
		`J100 2/2 newest="" varies=true nothing=false`,
		`16xx 0/1 newest="" varies=false nothing=true`,
		`46xx 1/1 newest="2.8.3" varies=false nothing=false`,
		`96x1 H.323 0/1 newest="" varies=false nothing=true`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("series rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if fw := f.Series[0].Firmware; len(fw) != 2 || fw[0] != (firmwareCount{Version: "7.1.15.0.4", Phones: 2, Newest: true}) {
		t.Errorf("96x1 SIP firmware: %+v", fw)
	}
}
