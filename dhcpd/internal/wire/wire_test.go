package wire

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// header is a reply header as the server starts one.
func header() *dhcpv4.DHCPv4 {
	return &dhcpv4.DHCPv4{
		OpCode: dhcpv4.OpcodeBootReply, HWType: iana.HWTypeEthernet, HopCount: 1, NumSeconds: 7, Flags: 0x8000,
		TransactionID:  dhcpv4.TransactionID{0xde, 0xad, 0xbe, 0xef},
		ClientHWAddr:   net.HardwareAddr{0x00, 0x04, 0x0d, 0x12, 0x34, 0x56},
		ClientIPAddr:   net.IP{198, 18, 0, 9},
		YourIPAddr:     net.IP{198, 18, 0, 10},
		ServerIPAddr:   net.ParseIP("198.18.0.1"), // 16-byte form
		GatewayIPAddr:  net.IP{198, 18, 2, 1},
		ServerHostName: "tftp.example",
		BootFileName:   "46xxsettings.txt",
		// Options of the header are not written: a Builder writes them.
		Options: dhcpv4.OptionsFromList(dhcpv4.OptHostName("not-written")),
	}
}

func TestBuilderHeaderOrderAndSplit(t *testing.T) {
	var b Builder
	b.Start(make([]byte, 0, 1500), 600, 0, header())
	long := bytes.Repeat([]byte("x"), 300)
	if !b.Add8(dhcpv4.OptionDHCPMessageType.Code(), byte(dhcpv4.MessageTypeOffer)) {
		t.Fatal("option 53 refused")
	}
	if !b.Add(242, long) {
		t.Fatal("300-byte option did not fit in 600")
	}
	if b.Add(243, bytes.Repeat([]byte("y"), 60)) {
		t.Error("option past the limit was accepted")
	}
	if !b.Add32(dhcpv4.OptionIPAddressLeaseTime.Code(), 3600) {
		t.Error("small option refused")
	}
	out := b.Finish()
	if len(out) > 600 {
		t.Fatalf("reply is %d bytes, limit 600", len(out))
	}
	back, err := dhcpv4.FromBytes(out)
	if err != nil {
		t.Fatal(err)
	}
	if v := back.Options.Get(dhcpv4.GenericOptionCode(242)); !bytes.Equal(v, long) {
		t.Errorf("option 242 read back %d bytes, want 300", len(v))
	}
	if back.MessageType() != dhcpv4.MessageTypeOffer || back.IPAddressLeaseTime(0) != time.Hour {
		t.Errorf("read back wrong:\n%s", back.Summary())
	}
	// The header is laid out as dhcpv4 writes it.
	h := header()
	h.Options = nil
	if want := h.ToBytes()[:MinLen]; !bytes.Equal(out[:MinLen], want) {
		t.Errorf("header\n%x\nwant\n%x", out[:MinLen], want)
	}
	if back.Options.Has(dhcpv4.OptionHostName) {
		t.Error("the header's own options were written")
	}
	// In the order added, 53 first; 242 split on the wire into 255 + 45.
	if out[MinLen] != 53 {
		t.Errorf("first option %d, want 53", out[MinLen])
	}
	i := bytes.Index(out, []byte{242, 255})
	if i != MinLen+3 || out[i+2+255] != 242 || out[i+2+255+1] != 45 || out[i+2+255+2+45] != 51 {
		t.Errorf("option 242 not split into 255 + 45 after 53 and before 51")
	}
}

func TestBuilderReserveKeepsRoomForRelayInfo(t *testing.T) {
	agent := []byte{1, 6, 'p', 'o', 'r', 't', '-', '7'}
	var b Builder
	b.Start(make([]byte, 0, 1500), 300, 2+len(agent), header())
	for code := uint8(200); b.Add(code, []byte("abcdefgh")); code++ {
	}
	if !b.AddReserved(dhcpv4.OptionRelayAgentInformation.Code(), agent) {
		t.Fatal("reserved option 82 did not fit")
	}
	out := b.Finish()
	if len(out) > 300 {
		t.Fatalf("reply %d bytes > 300", len(out))
	}
	back, err := dhcpv4.FromBytes(out)
	if err != nil {
		t.Fatal(err)
	}
	if v := back.Options.Get(dhcpv4.OptionRelayAgentInformation); !bytes.Equal(v, agent) {
		t.Errorf("option 82 = %x", v)
	}
}

func TestFinishPadsWithinLimit(t *testing.T) {
	var b Builder
	b.Start(make([]byte, 0, 1500), 1500, 0, header())
	if out := b.Finish(); len(out) != MinReplyLen {
		t.Errorf("short reply padded to %d, want %d", len(out), MinReplyLen)
	}
	b.Start(make([]byte, 0, 1500), 260, 0, header())
	if out := b.Finish(); len(out) != 260 {
		t.Errorf("reply with a 260-byte limit is %d bytes", len(out))
	}
}
