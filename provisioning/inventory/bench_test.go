package inventory

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
)

// benchRate is the DHCP rate the benchmarks replay: exchanges per second
// of the clock the facts carry, so the inventory flushes once per benchRate
// exchanges, as Run does every Config.FlushInterval (1 s).
const benchRate = 8000

// benchPhone is the i-th phone of a benchmark fleet, numbered from 1.
func benchPhone(i int) (net.HardwareAddr, netip.Addr) {
	mac := net.HardwareAddr{0x02, 0x42, 0, byte(i >> 16), byte(i >> 8), byte(i)}
	addr := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
	return mac, addr
}

// benchLeaseEvent is the event dhcpd's handler emits (handler.emit): its
// own copies of the MAC and the parameter request list for every event.
func benchLeaseEvent(kind dhcpd.LeaseEventKind, i int, now time.Time) dhcpd.LeaseEvent {
	mac, addr := benchPhone(i)
	return dhcpd.LeaseEvent{
		Kind: kind, Time: now, MAC: mac, Addr: addr, Subnet: netip.MustParsePrefix("198.18.0.0/15"),
		Class: "avaya", VendorClass: "ccp.avaya.com",
		RequestedOptions: []byte{1, 2, 3, 6, 15, 42, 43, 242}, Expiry: now.Add(time.Hour),
	}
}

// openBench opens an inventory in a temporary folder, with a clock the
// benchmark moves.
func openBench(b *testing.B, now *time.Time) *Inventory {
	b.Helper()
	inv, err := Open(DefaultConfig(), Options{
		Path: filepath.Join(b.TempDir(), "inventory.journal"), Registry: prometheus.NewRegistry(),
		Now: func() time.Time { return *now }, Firmware: testCatalogue{},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = inv.Close() })
	return inv
}

// BenchmarkDHCPExchanges measures the inventory's whole cost of one DHCP
// exchange (DISCOVER/OFFER, REQUEST/ACK) of a perfdhcp-like run at
// benchRate exchanges a second: the offer and ack events as the appliance
// hands them over (ObserveLease on the DHCP worker), folding them in (the
// Run goroutine) and the flushes to the journal, one per benchRate
// exchanges, with its rewrites. The clients cycle through a fleet of the
// given size, each coming back once per round, as perfdhcp's do.
func BenchmarkDHCPExchanges(b *testing.B) {
	for _, clients := range []int{10000, 30000} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			now := t0
			inv := openBench(b, &now)
			step := time.Second / benchRate
			events := make([][2]dhcpd.LeaseEvent, clients)
			for i := range events {
				events[i] = [2]dhcpd.LeaseEvent{benchLeaseEvent(dhcpd.Offered, i+1, now), benchLeaseEvent(dhcpd.Acked, i+1, now)}
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU(b)
			for n := range b.N {
				now = now.Add(step)
				ev := &events[n%clients]
				ev[0].Time, ev[1].Time = now, now
				inv.ObserveLease(ev[0])
				inv.ObserveLease(ev[1])
				if n%64 == 63 {
					inv.foldQueued(ctx)
				}
				if n%benchRate == benchRate-1 {
					if err := inv.Flush(); err != nil {
						b.Fatal(err)
					}
				}
			}
			inv.foldQueued(ctx)
			if err := inv.Flush(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
			if d := inv.Dropped(); d > 0 {
				b.Fatalf("%d facts dropped", d)
			}
		})
	}
}

// processCPU is the CPU time the process has used (user and system, every
// thread, the garbage collector's included), in nanoseconds: unlike ns/op
// it does not count the time other processes take the cores from it.
func processCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchBoot is what boots tell the inventory of a phone: its lease, then
// per boot its upgrade script, settings and firmware over HTTPS with a
// User-Agent; fetches in all.
func benchBoot(inv *Inventory, i, fetches int, now time.Time) {
	ctx := context.Background()
	ack := benchLeaseEvent(dhcpd.Acked, i, now)
	ack.Hostname = fmt.Sprintf("AVX%06X", i&0xffffff)
	inv.apply(ctx, leaseFactOf(ack))
	_, addr := benchPhone(i)
	ua := fmt.Sprintf("Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:%x)", []byte(ack.MAC))
	names := []string{"J100Supgrade.txt", "46xxsettings.txt", "FW_S_J179_R4_1_3_0_6.bin"}
	for j := range fetches {
		name := names[j%len(names)]
		// Each event brings its own copy of the name, as a request does.
		ev := fileserve.AccessEvent{Time: now.Add(time.Duration(j+1) * time.Second), Protocol: "https",
			Client: netip.AddrPortFrom(addr, 40000), Name: "/" + name, Resolved: string([]byte(name)), Status: 200, Bytes: 2000, Size: 2000, UserAgent: ua}
		inv.apply(ctx, fact{access: ev})
	}
}

// BenchmarkHeapPer10kPhones reports the heap the inventory holds for
// 10,000 phones: a lease and, with fetches, a User-Agent and that many
// requests (0: a DHCP client only; 3: one boot; Config.FilesPerPhone: a
// full history), measured with runtime.MemStats after a garbage
// collection, while the phones are hot (changed since the last flush) and
// once two flushes have frozen them (see records); it is reported, not
// asserted. Run it with -benchtime=1x.
func BenchmarkHeapPer10kPhones(b *testing.B) {
	const phones = 10000
	for _, fetches := range []int{0, 3, DefaultConfig().FilesPerPhone} {
		b.Run(fmt.Sprintf("fetches=%d", fetches), func(b *testing.B) {
			for range b.N {
				now := t0
				runtime.GC()
				before := heapInUse()
				inv := openBench(b, &now)
				for i := 1; i <= phones; i++ {
					benchBoot(inv, i, fetches, now)
				}
				hot := heapInUse() - before
				for range 2 {
					if err := inv.Flush(); err != nil {
						b.Fatal(err)
					}
				}
				frozen := heapInUse() - before
				if n := len(inv.List(Filter{})); n != phones {
					b.Fatalf("%d phones kept, want %d", n, phones)
				}
				b.ReportMetric(float64(hot)/phones, "hot-bytes/phone")
				b.ReportMetric(float64(frozen)/phones, "frozen-bytes/phone")
				b.ReportMetric(float64(frozen)/(1<<20), "frozen-MiB/10k-phones")
				runtime.KeepAlive(inv)
			}
		})
	}
}

// heapInUse is the heap's live bytes after a garbage collection.
func heapInUse() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkAccessFacts measures the inventory's whole cost of one file
// request of a known phone: the access event as the appliance hands it
// over (ObserveAccess on the serving goroutine), folding it in (the Run
// goroutine) and the flushes, one per benchRate requests. The requests
// cycle through 1,000 phones of one model, as a site's HTTPS load does.
func BenchmarkAccessFacts(b *testing.B) {
	const phones = 1000
	now := t0
	inv := openBench(b, &now)
	for i := 1; i <= phones; i++ {
		benchBoot(inv, i, 3, now)
	}
	events := make([]fileserve.AccessEvent, phones)
	for i := range events {
		mac, addr := benchPhone(i + 1)
		events[i] = fileserve.AccessEvent{Protocol: "https", Client: netip.AddrPortFrom(addr, 40000),
			Name: "/46xxsettings.txt", Resolved: "46xxsettings.txt", Status: 200, Bytes: 2048, Size: 2048,
			UserAgent: fmt.Sprintf("Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:%x)", []byte(mac))}
	}
	ctx := context.Background()
	step := time.Second / benchRate
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU(b)
	for n := range b.N {
		now = now.Add(step)
		ev := &events[n%phones]
		ev.Time = now
		inv.ObserveAccess(*ev)
		if n%64 == 63 {
			inv.foldQueued(ctx)
		}
		if n%benchRate == benchRate-1 {
			if err := inv.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	inv.foldQueued(ctx)
	if err := inv.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
	if d := inv.Dropped(); d > 0 {
		b.Fatalf("%d facts dropped", d)
	}
}
