package benchkit

import "testing"

func TestParseNetCounter(t *testing.T) {
	snmp := "Ip: Forwarding DefaultTTL\nIp: 1 64\n" +
		"Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n" +
		"Udp: 68248083 165 12 68248607 11 0 0 0 0\n" +
		"UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors\n" +
		"UdpLite: 0 0 0 0 7 0 0 0 0\n"
	if n, err := ParseNetCounter(snmp, "Udp", "RcvbufErrors"); err != nil || n != 11 {
		t.Errorf("Udp RcvbufErrors: got %d, %v; want 11", n, err)
	}
	if n, err := ParseNetCounter(snmp, "UdpLite", "RcvbufErrors"); err != nil || n != 7 {
		t.Errorf("UdpLite RcvbufErrors: got %d, %v; want 7", n, err)
	}
	netstat := "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops\nTcpExt: 0 0 3 5\n" +
		"IpExt: InNoRoutes InTruncatedPkts\nIpExt: 0 0\n"
	if n, err := ParseNetCounter(netstat, "TcpExt", "ListenDrops"); err != nil || n != 5 {
		t.Errorf("TcpExt ListenDrops: got %d, %v; want 5", n, err)
	}
	for _, c := range []struct{ text, section, name string }{
		{"Ip: Forwarding\nIp: 1\n", "Udp", "RcvbufErrors"},     // no such section
		{snmp, "Udp", "NoSuchCounter"},                         // no such counter
		{"Udp: RcvbufErrors\nUdp: x\n", "Udp", "RcvbufErrors"}, // not a number
	} {
		if n, err := ParseNetCounter(c.text, c.section, c.name); err == nil {
			t.Errorf("%s %s in %q: got %d, want an error", c.section, c.name, c.text, n)
		}
	}
}
