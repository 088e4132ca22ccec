package admin

import (
	"fmt"
	"net/netip"
	"regexp"
	"testing"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
)

// Misses phones make by design are information; what needs the operator
// (server errors, refused names, a 404 on anything else, a cut transfer,
// a decline) is a problem.
func TestExpectedMissesAreNotProblems(t *testing.T) {
	misses := expectedMisses()
	for _, c := range []struct {
		name        string
		status      int
		bytes, size int64
		expected    string
		problem     bool
	}{
		{"000000000000.cfg", 404, 0, 0, "polycom-master", false},
		{"/0004f2aabbcc.cfg", 404, 0, 0, "mac-cfg", false},
		{"Cisco/CP-7841-3PCC/00562b043615.cfg", 404, 0, 0, "mac-cfg", false},
		{"SEP00562B043615.cnf.xml", 404, 0, 0, "cisco-sep", false},
		{"ITLSEP00562B043615.tlv", 404, 0, 0, "cisco-sep", false},
		{"CTLSEP00562B043615.tlv", 404, 0, 0, "cisco-sep", false},
		{"ITLFile.tlv", 404, 0, 0, "cisco-itl-ctl", false},
		{"7841-3PCC.xml", 404, 0, 0, "cisco-mpp-model", false},
		{"cfg000b82aabbcc.xml", 404, 0, 0, "grandstream", false},
		{"snom710-000413741767.htm", 404, 0, 0, "snom", false},
		{"c81fea83e85a.txt", 404, 0, 0, "avaya-phone-file", false},
		{"$MACADDR.txt", 404, 0, 0, "avaya-macaddr-literal", false},
		{"/backup/1234_96xxdata.txt", 404, 0, 0, "avaya-backup", false},
		{"backup/201_4610data_sip.txt", 404, 0, 0, "avaya-backup", false},
		// Real problems.
		{"000000000000.cfg", 500, 0, 0, "", true},
		{"/backup/1234_96xxdata.txt", 500, 0, 0, "", true},
		{"/backup/1234_96xxdata.txt", 507, 0, 0, "", true},
		{"../etc/passwd", 403, 0, 0, "", true},
		{"FW_S_J179_R4_1_3_0_6.bin", 404, 0, 0, "", true},
		{"J100Supgrade.txt", 404, 0, 0, "", true},
		{"c81fea83e85a.cfg.bak", 404, 0, 0, "", true},
		{"FW_S_J179_R4_1_3_0_6.bin", 408, 512, 4096, "", true},
		{"FW_S_J179_R4_1_3_0_6.bin", 200, 512, 4096, "", true}, // cut short
		// Fine.
		{"FW_S_J179_R4_1_3_0_6.bin", 200, 4096, 4096, "", false},
		{"FW_S_J179_R4_1_3_0_6.bin", 200, 0, 4096, "", false}, // a HEAD
		{"FW_S_J179_R4_1_3_0_6.bin", 206, 512, 4096, "", false},
		{"/backup/1234_96xxdata.txt", 201, 0, 0, "", false},
	} {
		expected, problem := classify(misses, c.name, c.status, c.bytes, c.size)
		if expected != c.expected || problem != c.problem {
			t.Errorf("%s %d (%d of %d bytes): expected miss %q, problem %v; want %q, %v",
				c.name, c.status, c.bytes, c.size, expected, problem, c.expected, c.problem)
		}
	}
}

// Every pattern carries a source or says why it is believed without one,
// and compiles.
func TestExpectedMissesAreDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range expectedMisses() {
		if seen[m.ID] {
			t.Errorf("%s listed twice", m.ID)
		}
		seen[m.ID] = true
		if (len(m.Sources) == 0) == (m.Unconfirmed == "") {
			t.Errorf("%s: give sources or say why it is unconfirmed, not both or neither", m.ID)
		}
		if _, err := regexp.Compile(m.Pattern); err != nil || m.What == "" {
			t.Errorf("%s: pattern %v, what %q", m.ID, err, m.What)
		}
	}
}

// A healthy boot storm's misses fill their own ring and count apart: the
// problems' count stays at the real ones.
func TestExpectedMissesCountApart(t *testing.T) {
	r := NewEvents()
	client := netip.MustParseAddrPort("198.18.0.9:1000")
	for i := range 49 {
		r.ObserveAccess(fileserve.AccessEvent{Protocol: "https", Name: fmt.Sprintf("/backup/%d_96xxdata.txt", 1000+i), Status: 404, Client: client})
	}
	r.ObserveAccess(fileserve.AccessEvent{Protocol: "https", Name: "/backup/1000_96xxdata.txt", Status: 500, Client: client})
	r.ObserveAccess(fileserve.AccessEvent{Protocol: "http", Name: "FW_S_J179_R4_1_3_0_6.bin", Status: 200, Bytes: 10, Size: 100, Client: client})
	r.ObserveLease(dhcpd.LeaseEvent{Kind: dhcpd.Declined, Addr: netip.MustParseAddr("198.18.0.30")})
	problems, misses, all := r.Latest(Problems, 0), r.Latest(ExpectedMisses, 0), r.Latest(AllEvents, 0)
	if problems.Seen != 3 || len(problems.Events) != 3 || misses.Seen != 49 || len(misses.Events) != 49 || all.Seen != 52 {
		t.Fatalf("problems %d (%d kept), misses %d (%d kept), all %d", problems.Seen, len(problems.Events), misses.Seen, len(misses.Events), all.Seen)
	}
	if e := problems.Events[1]; e.Detail != "transfer cut short: 10 of 100 bytes sent" {
		t.Errorf("cut transfer: %+v", e)
	}
	if e := misses.Events[0]; e.Expected != "avaya-backup" || e.Problem {
		t.Errorf("a miss: %+v", e)
	}
}
