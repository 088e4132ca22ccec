package main

import (
	"fmt"
	"strings"
	"testing"
)

// xx escapes bytes the way strace -xx prints them.
func xx(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		fmt.Fprintf(&s, `\x%02x`, c)
	}
	return s.String()
}

// dhcpPacket is a minimal BOOTP reply with option 53 = t.
func dhcpPacket(t byte) []byte {
	b := make([]byte, 236)
	b[0] = 2
	return append(b, 0x63, 0x82, 0x53, 0x63, 53, 1, t, 255)
}

const lease = "/tmp/w/phoneprov-r1-hold/data/leases.journal"

func sendto(pid int, at string, t byte) string {
	return fmt.Sprintf(`%-5d %s sendto(12<%s>, "%s", 244, 0, {sa_family=AF_INET, sin_port=htons(67), sin_addr=inet_addr("%s")}, 16) = 244 <0.000100>`,
		pid, at, xx([]byte("socket:[526937]")), xx(dhcpPacket(t)), xx([]byte("198.18.0.2")))
}

func sendmsg(pid int, at string, t byte) string {
	return fmt.Sprintf(`%d %s sendmsg(5<%s>, {msg_name={sa_family=AF_INET, sin_port=htons(67), sin_addr=inet_addr("%s")}, msg_namelen=16, msg_iov=[{iov_base="%s", iov_len=244}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, 0) = 244 <0.000050>`,
		pid, at, xx([]byte("socket:[534153]")), xx([]byte("198.18.0.2")), xx(dhcpPacket(t)))
}

func fileCall(pid int, at, call, path, rest string) string {
	return fmt.Sprintf("%d %s %s(9<%s>%s", pid, at, call, xx([]byte(path)), rest)
}

func TestAnalyzeTraceSyncedBeforeAck(t *testing.T) {
	lines := []string{
		sendto(7977, "100.000000", 2), // OFFER
		fileCall(30982, "100.100000", "pwrite64", lease, `, "\x01\x02", 4096, 8192) = 4096 <0.000020>`),
		fileCall(30982, "100.100100", "fdatasync", lease, `) = 0 <0.000300>`),
		sendto(7977, "100.100500", 5), // ACK after the sync ended at 100.1004
		sendto(7977, "101.000000", 2),
		// The sync is split by another thread's line and resumes before the ACK.
		fileCall(30846, "101.100000", "fdatasync", lease, ` <unfinished ...>`),
		"7977  101.100050 write(2<pipe:[1]>, \"x\", 1) = 1 <0.000010>",
		"30846 101.100400 <... fdatasync resumed>) = 0 <0.000400>",
		sendto(7977, "101.100500", 5),
		"30846 101.200000 +++ exited with 0 +++",
	}
	d, err := analyzeTrace(strings.Join(lines, "\n")+"\n", lease)
	if err != nil {
		t.Fatal(err)
	}
	want := durability{Acks: 2, AcksAfterSync: 2, Syncs: 2, LeaseWrites: 1, LeaseBytes: 4096}
	if d != want || !d.durable() {
		t.Fatalf("got %+v, want %+v", d, want)
	}
}

func TestAnalyzeTraceWriteWithoutSync(t *testing.T) {
	csv := "/tmp/w/kea-r1-hold/leases4.csv"
	lines := []string{
		sendmsg(1166, "5.000000", 2),
		fileCall(1166, "5.000600", "write", csv, `, "\x31\x39\x38", 80) = 80 <0.000010>`),
		sendmsg(1166, "5.000700", 5),
		// A sync of some other file does not count.
		fileCall(1166, "5.100000", "fsync", "/tmp/w/other.db", `) = 0 <0.000100>`),
		sendmsg(1166, "5.200000", 2),
		fileCall(1166, "5.200600", "write", csv, `, "\x31\x39\x38", 80) = 80 <0.000010>`),
		sendmsg(1166, "5.200700", 5),
	}
	d, err := analyzeTrace(strings.Join(lines, "\n"), csv)
	if err != nil {
		t.Fatal(err)
	}
	want := durability{Acks: 2, AcksAfterSync: 0, Syncs: 0, LeaseWrites: 2, LeaseBytes: 160}
	if d != want || d.durable() {
		t.Fatalf("got %+v, want %+v", d, want)
	}
}

func TestAnalyzeTraceSyncStillRunningAtAck(t *testing.T) {
	// The sync starts before the ACK but ends after it: not durable.
	lines := []string{
		sendto(1, "1.000000", 2),
		fileCall(2, "1.100000", "fdatasync", lease, ` <unfinished ...>`),
		sendto(1, "1.100100", 5),
		"2 1.100900 <... fdatasync resumed>) = 0 <0.000900>",
	}
	d, err := analyzeTrace(strings.Join(lines, "\n"), lease)
	if err != nil {
		t.Fatal(err)
	}
	if d.Acks != 1 || d.AcksAfterSync != 0 || d.Syncs != 1 {
		t.Fatalf("got %+v", d)
	}
}

func TestAnalyzeTraceNoPidColumn(t *testing.T) {
	text := strings.Join([]string{
		"1.000000 " + strings.SplitN(sendto(1, "x", 2), " x ", 2)[1],
		"1.000100 fsync(3<" + xx([]byte(lease)) + ">) = 0 <0.000100>",
		"1.000300 " + strings.SplitN(sendto(1, "x", 5), " x ", 2)[1],
	}, "\n")
	d, err := analyzeTrace(text, lease)
	if err != nil || d.Acks != 1 || d.AcksAfterSync != 1 {
		t.Fatalf("got %+v, %v", d, err)
	}
}

func TestMessageTypeOf(t *testing.T) {
	ipudp := make([]byte, 28) // a raw socket's packet starts with IP and UDP headers
	for _, c := range []struct {
		name string
		b    []byte
		want byte
	}{
		{"offer", dhcpPacket(2), 2},
		{"ack behind headers", append(ipudp, dhcpPacket(5)...), 5},
		{"padding first", append(dhcpPacket(0)[:240], 0, 0, 53, 1, 6, 255), 6},
		{"no cookie", make([]byte, 300), 0},
		{"truncated option", append(dhcpPacket(0)[:240], 12, 40, 'a'), 0},
	} {
		if got := messageTypeOf(c.b); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

func TestFdPathAndUnescape(t *testing.T) {
	if got := fdPath("9<" + xx([]byte(lease)) + ">, \"\\x01\", 1"); got != lease {
		t.Errorf("fdPath = %q", got)
	}
	if got := fdPath("9</plain/path>) = 0"); got != "/plain/path" {
		t.Errorf("fdPath plain = %q", got)
	}
	if got := fdPath(`0x7f, 5<x>`); got != "" {
		t.Errorf("fdPath of a non-descriptor first argument = %q", got)
	}
	if got := unescape(`a\x41\x4g\x`); got != `aA\x4g\x` {
		t.Errorf("unescape = %q", got)
	}
}
