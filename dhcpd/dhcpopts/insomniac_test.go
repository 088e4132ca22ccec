// These tests check this package against github.com/insomniacslk/dhcp's
// dhcpv4 parser and serializer, which the DHCP server uses for packets.

package dhcpopts

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/rfc1035label"
)

// avaya600 is a valid option 242 string of exactly 600 bytes: a long
// MCIPADD list, then an HTTPDIR that makes up the length.
func avaya600(t *testing.T) []byte {
	t.Helper()
	var ips []string
	for i := 1; i <= 30; i++ {
		ips = append(ips, fmt.Sprintf("198.18.0.%d", i))
	}
	s := "MCIPADD=" + strings.Join(ips, ",") + ",HTTPDIR="
	s += strings.Repeat("d", 600-len(s))
	v, err := Parse(Spec{Code: 242, Name: "avaya-96xx", Type: TypeAvaya}, s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.Encode(Vars{})
	if err != nil || len(b) != 600 {
		t.Fatalf("600-byte string: %d bytes, %v", len(b), err)
	}
	return b
}

// instances lists the lengths of the instances of code in a packet's options.
func instances(t *testing.T, pkt []byte, code uint8) []int {
	t.Helper()
	var out []int
	opts := pkt[240:]
	for i := 0; i < len(opts); {
		switch opts[i] {
		case 0:
			i++
			continue
		case 255:
			return out
		}
		if opts[i] == code {
			out = append(out, int(opts[i+1]))
		}
		i += 2 + int(opts[i+1])
	}
	t.Fatal("no end option")
	return nil
}

func TestInsomniacSplitsAndRejoinsA600ByteOption242(t *testing.T) {
	data := avaya600(t)
	m, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeOffer),
		dhcpv4.WithGeneric(dhcpv4.GenericOptionCode(242), data))
	if err != nil {
		t.Fatal(err)
	}
	pkt := m.ToBytes()
	// dhcpv4.Options.Marshal splits by itself: 255 + 255 + 90.
	if got := instances(t, pkt, 242); !slices.Equal(got, []int{255, 255, 90}) {
		t.Fatalf("insomniac wrote option 242 as instances %v", got)
	}
	// And what it wrote is exactly what AppendOption writes.
	if !bytes.Contains(pkt, AppendOption(nil, 242, data)) {
		t.Error("insomniac's split differs from AppendOption's")
	}
	back, err := dhcpv4.FromBytes(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Options.Get(dhcpv4.GenericOptionCode(242)); !bytes.Equal(got, data) {
		t.Fatalf("option 242 came back as %d bytes", len(got))
	}
}

func TestInsomniacJoinsOurSplitEvenWhenInterleaved(t *testing.T) {
	data := avaya600(t)
	m, err := dhcpv4.New(dhcpv4.WithMessageType(dhcpv4.MessageTypeAck))
	if err != nil {
		t.Fatal(err)
	}
	head := m.ToBytes()[:240]
	pieces := Split(242, data)
	opts := []byte{53, 1, 5}
	opts = AppendOption(opts, 242, pieces[0])
	opts = append(opts, 6, 4, 198, 18, 0, 1) // another option between the instances
	opts = AppendOption(opts, 242, pieces[1])
	opts = append(opts, 0, 0) // pads
	opts = AppendOption(opts, 242, pieces[2])
	pkt := append(append(slices.Clone(head), opts...), 255)
	back, err := dhcpv4.FromBytes(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Options.Get(dhcpv4.GenericOptionCode(242)); !bytes.Equal(got, data) {
		t.Fatalf("option 242 came back as %d bytes", len(got))
	}
	if got := back.DNS(); len(got) != 1 || !got[0].Equal(net.IPv4(198, 18, 0, 1)) {
		t.Errorf("option 6 = %v", got)
	}
}

func TestInsomniacReadsOurDomainsRoutesAndSubOptions(t *testing.T) {
	names := []string{"eng.apple.com", "marketing.apple.com", "phones.example"}
	enc, err := EncodeDomains(names)
	if err != nil {
		t.Fatal(err)
	}
	labels, err := rfc1035label.FromBytes(enc)
	if err != nil || !slices.Equal(labels.Labels, names) {
		t.Errorf("insomniac read our domains as %v, %v", labels, err)
	}

	v, err := Parse(Spec{121, "classless-routes", TypeRoutes},
		[]any{"0.0.0.0/0 198.18.0.1", "10.229.0.128/25 198.18.0.2", "198.18.0.0/15 198.18.0.3"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := v.Encode(Vars{})
	var routes dhcpv4.Routes
	if err := routes.FromBytes(b); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range routes {
		got = append(got, r.String())
	}
	want := []string{"route to 0.0.0.0/0 via 198.18.0.1", "route to 10.229.0.128/25 via 198.18.0.2", "route to 198.18.0.0/15 via 198.18.0.3"}
	if !slices.Equal(got, want) {
		t.Errorf("insomniac read our routes as %q", got)
	}

	p, _ := ParseAvaya("HTTPSRVR=198.18.0.1,TLSPORT=411,SIG=2")
	o43, err := AvayaOption43(p)
	if err != nil {
		t.Fatal(err)
	}
	subs := dhcpv4.Options{}
	if err := subs.FromBytes(o43); err != nil {
		t.Fatal(err)
	}
	for code, want := range map[uint8]string{1: "6889", 2: "198.18.0.1", 7: "411", 14: "2"} {
		if got := string(subs[code]); got != want {
			t.Errorf("sub-option %d = %q, want %q", code, got, want)
		}
	}
}
