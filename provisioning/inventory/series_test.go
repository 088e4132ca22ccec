package inventory

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
)

// boot feeds one phone's lease and file requests, one second apart, and
// returns its record a second after the last.
func boot(t *testing.T, inv *testInventory, mac, ip string, reqs ...fileserve.AccessEvent) Phone {
	t.Helper()
	ctx := context.Background()
	inv.apply(ctx, leaseFactOf(lease(0, mac, ip, dhcpd.Acked, "", "ccp.avaya.com")))
	at := time.Second
	for _, ev := range reqs {
		ev.Time = t0.Add(at)
		ev.Client = access(0, ip, "https", "", 0, 0, "").Client
		inv.apply(ctx, fact{access: ev})
		at += time.Second
	}
	inv.clock.Set(t0.Add(at))
	return stateOf(t, inv, mac)
}

// req is a request at a time boot fills in.
func req(name string, status int, ua string) fileserve.AccessEvent {
	return access(0, "198.18.0.1", "https", name, status, 100, ua)
}

// Phones that send no User-Agent (4600, 1600, 96x1 H.323) are known by the
// upgrade script they ask for first, then by their firmware or backup name.
func TestModelFromWhatThePhoneFetches(t *testing.T) {
	for _, c := range []struct {
		name      string
		reqs      []fileserve.AccessEvent
		model     string
		from      string
		series    string
		wantState State
	}{
		{"4600 script", []fileserve.AccessEvent{req("46xxupgrade.scr", 200, ""), req("46xxsettings.txt", 200, "")}, "46xx", ModelFromUpgradeScript, "46xx", StateUpToDate},
		{"4600 .txt alias", []fileserve.AccessEvent{req("46xxupgrade.txt", 200, "")}, "46xx", ModelFromUpgradeScript, "46xx", StateFetching},
		{"1600", []fileserve.AccessEvent{req("16xxupgrade.txt", 200, ""), req("46xxsettings.txt", 200, "")}, "16xx", ModelFromUpgradeScript, "16xx", StateNoFirmware},
		{"9600", []fileserve.AccessEvent{req("96xxupgrade.txt", 200, ""), req("46xxsettings.txt", 200, "")}, "96xx", ModelFromUpgradeScript, "96xx", StateNoFirmware},
		{"96x1 H.323", []fileserve.AccessEvent{req("96x1Hupgrade.txt", 200, ""), req("46xxsettings.txt", 200, "")}, "96x1 H.323", ModelFromUpgradeScript, "96x1H", StateNoFirmware},
		{"96x1 SIP", []fileserve.AccessEvent{req("96x1Supgrade.txt", 200, ""), req("46xxsettings.txt", 200, "")}, "96x1 SIP", ModelFromUpgradeScript, "96x1S", StateUpToDate},
		{"J100", []fileserve.AccessEvent{req("J100Supgrade.txt", 200, "")}, "J100", ModelFromUpgradeScript, "J100", StateFetching},
		{"K100", []fileserve.AccessEvent{req("K1xxSupgrade.txt", 200, ""), req("46xxsettings.txt", 200, "")}, "K100", ModelFromUpgradeScript, "K100", StateNoFirmware},
		{"script in a folder", []fileserve.AccessEvent{req("avaya/16xxupgrade.txt", 200, "")}, "16xx", ModelFromUpgradeScript, "16xx", StateFetching},
		{"a missing script names nothing", []fileserve.AccessEvent{req("16xxupgrade.txt", 404, "")}, "", "", "", StateFailed},
		{"1600 backup only", []fileserve.AccessEvent{req("backup/2001_16xxdata.txt", 201, "")}, "16xx", ModelFromBackup, "", StateDiscovered},
		{"96xx backup names no series", []fileserve.AccessEvent{req("backup/2001_96xxdata.txt", 201, "")}, "", "", "", StateDiscovered},
		{"firmware for several models", []fileserve.AccessEvent{req("a46xxua2_8_3.bin", 200, "")}, "46xx", ModelFromFirmware, "46xx", StateUpToDate},
		{"the User-Agent wins", []fileserve.AccessEvent{req("J100Supgrade.txt", 200, "AVAYA/J179-4.1.3.0.6"), req("46xxsettings.txt", 200, "AVAYA/J179-4.1.3.0.6")}, "J179", ModelFromUserAgent, "J100", StateUpToDate},
		{"a more precise firmware wins over the script", []fileserve.AccessEvent{req("J100Supgrade.txt", 200, ""), req("46xxsettings.txt", 200, ""), req("FW_S_J179_R4_1_3_0_6.bin", 200, "")}, "J179", ModelFromFirmware, "J100", StateUpToDate},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv := openTest(t, "", nil)
			defer inv.Close()
			p := boot(t, inv, "00:04:0d:00:00:01", "198.18.30.1", c.reqs...)
			if p.Model != c.model || p.ModelFrom != c.from || p.Series != c.series || p.State != c.wantState {
				t.Errorf("model %q from %q, series %q, %s (%s); want %q from %q, series %q, %s",
					p.Model, p.ModelFrom, p.Series, p.State, p.StateReason, c.model, c.from, c.series, c.wantState)
			}
		})
	}
}

// Every Avaya boot sequence that is over (settings file fetched after the
// upgrade script) ends in a verdict at once: upgraded, up to date,
// presumed up to date, no firmware offered or model unknown; never
// "fetching" until FetchWindow has passed.
func TestAvayaSequenceVerdicts(t *testing.T) {
	for _, c := range []struct {
		name     string
		reqs     []fileserve.AccessEvent
		state    State
		reason   string
		upgraded bool
	}{
		{"4621 upgraded, then rebooted", []fileserve.AccessEvent{
			req("46xxupgrade.scr", 200, ""), req("46xxsettings.txt", 200, ""), req("phoneprov-ca.pem", 200, ""), req("a46xxua2_8_3.bin", 200, ""),
			req("46xxupgrade.scr", 200, ""), req("46xxsettings.txt", 200, ""),
		}, StateUpToDate, "upgraded: downloaded a46xxua2_8_3.bin completely", true},
		{"9641 SIP without User-Agent upgraded", []fileserve.AccessEvent{
			req("96x1Supgrade.txt", 200, ""), req("46xxsettings.txt", 200, ""), req("S96x1_SALBR7_1_15_0_4_r.tar", 200, ""),
			req("96x1Supgrade.txt", 200, ""), req("46xxsettings.txt", 200, ""),
		}, StateUpToDate, "upgraded", true},
		{"96x1 SIP reporting the version offered", []fileserve.AccessEvent{
			req("96x1Supgrade.txt", 200, "AVAYA/96x1-IPT-SIP-R7_1_15_0_4"), req("46xxsettings.txt", 200, "AVAYA/96x1-IPT-SIP-R7_1_15_0_4"),
		}, StateUpToDate, "user-agent 7.1.15.0.4 is the newest present", false},
		{"1608: no firmware in the tree", []fileserve.AccessEvent{
			req("16xxupgrade.txt", 200, ""), req("46xxsettings.txt", 200, ""), req("phoneprov-ca.pem", 200, ""),
			req("backup/2001_16xxdata.txt", 404, ""), req("backup/2001_16xxdata.txt", 201, ""),
		}, StateNoFirmware, "no firmware for 16xx in the tree: none offered", false},
		{"4600 presumed, with the 4600 guide as source", []fileserve.AccessEvent{
			req("46xxupgrade.scr", 200, ""), req("46xxsettings.txt", 200, ""),
		}, StateUpToDate, "presumed up to date: boot sequence over (46xxsettings.txt fetched after the upgrade script) without fetching the firmware offered (2.8.3), so it runs it (4600 Series IP Telephone LAN Administrator Guide", false},
		{"96x1 SIP presumed, unconfirmed", []fileserve.AccessEvent{
			req("96x1Supgrade.txt", 200, ""), req("46xxsettings.txt", 200, ""),
		}, StateUpToDate, "unconfirmed", false},
		{"model unknown", []fileserve.AccessEvent{req("46xxsettings.txt", 200, "")}, StateModelUnknown, "nothing it sent names its model or series", false},
		{"firmware refused before the settings: not over", []fileserve.AccessEvent{
			req("46xxupgrade.scr", 200, ""), req("a46xxua2_8_3.bin", 404, ""), req("46xxsettings.txt", 200, ""),
		}, StateFetching, "requested 46xxsettings.txt", false},
		{"settings, then firmware cut mid-body: not over", []fileserve.AccessEvent{
			req("96x1Supgrade.txt", 200, ""), req("46xxsettings.txt", 200, ""), sized(req("S96x1_SALBR7_1_15_0_4_r.tar", 200, ""), 5000),
		}, StateFetching, "requested S96x1_SALBR7_1_15_0_4_r.tar", false},
		{"upgrade script only: still fetching", []fileserve.AccessEvent{req("96x1Hupgrade.txt", 200, "")}, StateFetching, "no firmware for 96x1 H.323 in the tree to compare with", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv := openTest(t, "", nil)
			defer inv.Close()
			p := boot(t, inv, "00:60:1d:00:00:01", "198.18.30.2", c.reqs...)
			if p.State != c.state || !strings.Contains(p.StateReason, c.reason) || (p.Upgraded != nil) != c.upgraded {
				t.Errorf("%s (%s), upgraded %v; want %s (…%s…), upgraded %v", p.State, p.StateReason, p.Upgraded != nil, c.state, c.reason, c.upgraded)
			}
		})
	}
}

func TestFits(t *testing.T) {
	for _, c := range []struct {
		model, fw string
		want      bool
	}{
		{"", "J179", true}, {"J179", "", true}, {"J179", "J179", true}, {"J100", "J179", true},
		{"96x1 SIP", "96x1 SIP", true}, {"96x1 H.323", "96x1 SIP", false}, {"46xx", "J179", false},
		{"16xx", "1608", true}, {"VVX410", "J179", false}, {"VVX410", "vvx410", true},
	} {
		if got := fits(c.model, c.fw); got != c.want {
			t.Errorf("fits(%q, %q) = %v, want %v", c.model, c.fw, got, c.want)
		}
	}
}
