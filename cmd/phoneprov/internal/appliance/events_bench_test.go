package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/admin"
	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning/inventory"
)

// BenchmarkAccessFanout measures what observing one finished request costs
// the appliance: the fan-out as the file server calls it on the serving
// goroutines (several at once, as connections are), to the inventory with
// its Run goroutine folding the requests in, the admin listener's events
// and the access log at its default (debug lines, the log at warn as
// phonebench runs it). cpu-ns/op is the whole process's CPU (getrusage),
// the consumers' goroutines included.
func BenchmarkAccessFanout(b *testing.B) {
	log := slog.New(slog.DiscardHandler)
	inv, err := inventory.Open(inventory.DefaultConfig(), inventory.Options{
		Path: filepath.Join(b.TempDir(), "inventory.journal"), Registry: prometheus.NewRegistry(), Logger: log,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inv.Run(ctx) }()
	access, err := newAccessLog(config.LogConfig{Level: "warn", Format: "text", Access: config.AccessDebug}, log)
	if err != nil {
		b.Fatal(err)
	}
	f := fanout{access: []fileserve.AccessObserver{inv, admin.NewEvents(), access}}
	const phones = 1000
	events := make([]fileserve.AccessEvent, phones)
	for i := range events {
		events[i] = fileserve.AccessEvent{Time: time.Now(), Protocol: "https",
			Client: netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)}), 40000),
			Name:   "/46xxsettings.txt", Resolved: "46xxsettings.txt", Source: "file", Status: 200, Bytes: 2048, Size: 2048,
			UserAgent: fmt.Sprintf("Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:02420000%04x)", i)}
	}
	// flood: as fast as the serving goroutines can (16 on 2 cores); past
	// the queue's room the inventory counts drops (reported).
	b.Run("flood", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(8)
		dropped, cpu := inv.Dropped(), benchCPU(b)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				f.ObserveAccess(events[i%phones])
				i++
			}
		})
		b.ReportMetric(float64(benchCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(inv.Dropped()-dropped), "dropped")
	})
	// rate: 20,000 requests a second (what phonebench's 2 KiB HTTPS runs
	// reach), in 1 ms steps of 20, each folded in: the CPU per request
	// of the whole hand-off, the consumers' wake-ups included.
	b.Run("rate=20000/s", func(b *testing.B) {
		b.ReportAllocs()
		dropped, cpu := inv.Dropped(), benchCPU(b)
		next := time.Now()
		for n := range b.N {
			if n%20 == 0 {
				next = next.Add(time.Millisecond)
				time.Sleep(time.Until(next))
			}
			f.ObserveAccess(events[n%phones])
		}
		b.ReportMetric(float64(benchCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(inv.Dropped()-dropped), "dropped")
	})
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if err := inv.Close(); err != nil {
		b.Fatal(err)
	}
}

// benchCPU is the CPU time the process has used, user and system, in
// nanoseconds.
func benchCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
