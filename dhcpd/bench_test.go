package dhcpd

import (
	"context"
	"encoding/binary"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
	"github.com/phoneprov/phoneprov/dhcpd/leases/leasestest"
)

const benchClients = 120000

// benchConfig has room for benchClients clients.
func benchConfig() Config {
	c := baseConfig()
	c.Subnets[0].CIDR = "198.18.0.0/15"
	c.Subnets[0].Pools = []PoolConfig{{Start: "198.18.1.0", End: "198.19.255.254"}}
	c.Subnets[0].Reservations = nil
	c.Subnets[1].CIDR = "198.17.0.0/24" // out of the way; never used
	c.Subnets[1].Routers = nil
	c.Subnets[1].Pools = []PoolConfig{{Start: "198.17.0.10", End: "198.17.0.20"}}
	return c
}

func benchMAC(i uint32) net.HardwareAddr {
	m := net.HardwareAddr{0x00, 0x04, 0x0d, 0, 0, 0}
	binary.BigEndian.PutUint32(m[2:], i|0x0d000000)
	m[2] = 0x0d
	return m
}

// runDORA does DISCOVER/OFFER/REQUEST/ACK for client i with reusable buffers.
// Past benchClients the same clients come back (a DORA for an existing
// lease: still a durable write), so the pool never runs out.
func runDORA(b testing.TB, hs *harness, sc *scratch, disc, req []byte, i uint32) {
	m := benchMAC(i % benchClients)
	copy(disc[28:34], m)
	copy(req[28:34], m)
	in := inbound{data: disc, link: hs.link, dst: bcastAddr}
	out, ok := hs.h.handle(context.Background(), &in, sc)
	if !ok {
		b.Fatal("no offer")
	}
	yi := out.data[16:20]
	// option 50 is the last option of the request template
	copy(req[len(req)-5:len(req)-1], yi)
	in.data = req
	if _, ok := hs.h.handle(context.Background(), &in, sc); !ok {
		b.Fatal("no ack")
	}
}

func templates() (disc, req []byte) {
	vc := strOpt(dhcpv4.OptionClassIdentifier.Code(), "ccp.avaya.com")
	p := prl(1, 3, 6, 7, 15, 26, 42, 242)
	disc = pkt{typ: dhcpv4.MessageTypeDiscover, mac: benchMAC(0), opts: []opt{vc, p, maxSize(1000)}}.bytes()
	r := pkt{typ: dhcpv4.MessageTypeRequest, mac: benchMAC(0), opts: []opt{vc, p, addrOpt(dhcpv4.OptionServerIdentifier.Code(), serverIP), addrOpt(dhcpv4.OptionRequestedIPAddress.Code(), serverIP)}}.bytes()
	// move End right after option 50 so the template's last 5 bytes are 50's data + End
	end := len(r) - 1
	for r[end] == 0 {
		end--
	}
	return disc, r[:end+1]
}

// BenchmarkDORAMemory measures the handler alone: one new client per
// iteration, memory store.
func BenchmarkDORAMemory(b *testing.B) {
	hs := newHarnessWith(b, benchConfig(), leasestest.NewMemory())
	hs.h.log = discardLogger()
	hs.h.obs = nil
	disc, req := templates()
	sc := newScratch()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runDORA(b, hs, sc, disc, req, uint32(i))
	}
}

// BenchmarkDORAJournal runs many workers against the lease journal, so
// leases share group commits as they do in the server.
func BenchmarkDORAJournal(b *testing.B) {
	store, err := leases.OpenJournal(filepath.Join(b.TempDir(), "leases.journal"), leases.JournalOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	hs := newHarnessWith(b, benchConfig(), store)
	hs.h.log = discardLogger()
	hs.h.obs = nil
	var next atomic.Uint32
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	before := store.Stats()
	b.RunParallel(func(pb *testing.PB) {
		disc, req := templates()
		sc := newScratch()
		for pb.Next() {
			runDORA(b, hs, sc, disc, req, next.Add(1))
		}
	})
	if st := store.Stats(); st.Commits > before.Commits {
		b.ReportMetric(float64(st.Records-before.Records)/float64(st.Commits-before.Commits), "leases/commit")
	}
}
