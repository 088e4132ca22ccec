package netlab_test

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/deploy/netlab/netlabtest"
)

// TestDropUDPInput sends 400 datagrams across a pair whose receiving end
// drops 30 %: some arrive and some do not.
func TestDropUDPInput(t *testing.T) {
	p := netlabtest.NewPair(t, "a", "b", netip.MustParsePrefix("198.18.201.1/30"), netip.MustParsePrefix("198.18.201.2/30"))
	if err := p.B.DropUDPInput(0); err == nil {
		t.Error("0 % accepted")
	}
	if err := p.B.DropUDPInput(30); err != nil {
		t.Fatal(err)
	}
	var rx *net.UDPConn
	if err := p.B.Do(func() (err error) {
		rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(198, 18, 201, 2), Port: 4000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	var tx *net.UDPConn
	if err := p.A.Do(func() (err error) {
		tx, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(198, 18, 201, 2), Port: 4000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	const sent = 400
	for range sent {
		if _, err := tx.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	buf := make([]byte, 16)
	for {
		_ = rx.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := rx.Read(buf); err != nil {
			break
		}
		got++
	}
	// 30 % of 400 dropped: 120 expected; the bounds are far out (> 7 sigma).
	if got < sent/2 || got > sent-40 {
		t.Fatalf("%d of %d datagrams arrived with 30%% dropped", got, sent)
	}
	t.Logf("%d of %d arrived", got, sent)
}
