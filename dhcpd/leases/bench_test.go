package leases

import (
	"context"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkJournalPut measures durable Puts of one lease each on the file
// system of the benchmark's temporary directory, so the fsync cost is that
// disk's. "serial" is one caller waiting for each commit (a DHCP ACK's
// latency); "parallel64" is a worker pool of 64 callers whose Puts are
// group-committed. Each reports leases/s, leases/commit and fsyncs/lease:
// every fdatasync and fsync the journal made, compaction's included
// (compaction runs as in the server, with the default minimum).
func BenchmarkJournalPut(b *testing.B) {
	for _, mode := range []string{"serial", "parallel64"} {
		b.Run(mode, func(b *testing.B) {
			j, err := OpenJournal(filepath.Join(b.TempDir(), "leases.journal"), JournalOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = j.Close() })
			before := j.Stats()
			b.ReportAllocs()
			if mode == "serial" {
				benchSerial(b, j.Put)
			} else {
				benchParallel(b, j.Put)
			}
			st := j.Stats()
			report(b, st.Records, st.Commits)
			if st.Records > 0 {
				b.ReportMetric(float64(st.Syncs-before.Syncs)/float64(st.Records), "fsyncs/lease")
			}
		})
	}
}

type putFunc func(ctx context.Context, ls ...Lease) error

func benchSerial(b *testing.B, put putFunc) {
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if err := put(ctx, fullLease(i%100000)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func benchParallel(b *testing.B, put putFunc) {
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			if err := put(ctx, fullLease(i%100000)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func report(b *testing.B, records, commits uint64) {
	b.Helper()
	if secs := b.Elapsed().Seconds(); secs > 0 {
		b.ReportMetric(float64(records)/secs, "leases/s")
	}
	if commits > 0 {
		b.ReportMetric(float64(records)/float64(commits), "leases/commit")
	}
}

// fill50k writes 50 000 leases twice, in calls of 1000, as a long-running
// server leaves its file.
func fill50k(b *testing.B, s Store) {
	b.Helper()
	batch := make([]Lease, 0, 1000)
	for range 2 {
		for i := range 50000 {
			batch = append(batch, fullLease(i))
			if len(batch) == cap(batch) {
				if err := s.Put(context.Background(), batch...); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
}

// BenchmarkLoad50k is the start-up read of 50 000 leases, each written twice.
func BenchmarkLoad50k(b *testing.B) {
	b.Run("journal", func(b *testing.B) {
		s, err := OpenJournal(filepath.Join(b.TempDir(), "leases.journal"), JournalOptions{CompactMinSize: 1 << 30})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = s.Close() })
		fill50k(b, s)
		b.ReportAllocs()
		for b.Loop() {
			ls, err := s.Load(context.Background())
			if err != nil || len(ls) != 50000 {
				b.Fatalf("Load: %d leases, %v", len(ls), err)
			}
		}
	})
}

// BenchmarkJournalCompact50k rewrites a journal of 50 000 live leases while
// one caller keeps putting leases one at a time, and reports the slowest of
// those Puts: commits stop only for compaction's short final step.
func BenchmarkJournalCompact50k(b *testing.B) {
	j, err := OpenJournal(filepath.Join(b.TempDir(), "leases.journal"), JournalOptions{CompactMinSize: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = j.Close() })
	fill50k(b, j)
	stop := make(chan struct{})
	putterDone := make(chan struct{})
	var slowest, total time.Duration
	var puts int
	go func() {
		defer close(putterDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			if err := j.Put(context.Background(), fullLease(i%50000)); err != nil {
				b.Error(err)
				return
			}
			d := time.Since(start)
			slowest = max(slowest, d)
			total += d
			puts++
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		if err := j.Compact(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	close(stop)
	<-putterDone
	b.ReportMetric(float64(j.Stats().Size)/(1<<20), "MiB-after")
	if puts > 0 {
		b.ReportMetric(float64(slowest.Microseconds()), "slowest-put-µs")
		b.ReportMetric(float64(total.Microseconds())/float64(puts), "mean-put-µs")
	}
}

// BenchmarkJournalPaced measures a Put's latency (a REQUEST's wait for
// its ACK) at a steady rate well under the disk's limit: 16 callers, each
// putting one lease every 8 ms (2,000 leases a second in all), as a DHCP
// server's workers do under moderate load. It reports the mean and the
// median latency and the leases per commit.
func BenchmarkJournalPaced(b *testing.B) {
	j, err := OpenJournal(filepath.Join(b.TempDir(), "leases.journal"), JournalOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = j.Close() })
	const callers, every = 16, 8 * time.Millisecond
	ctx := context.Background()
	lat := make([][]time.Duration, callers)
	per := b.N/callers + 1
	before := j.Stats()
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the callers over the period.
			time.Sleep(every * time.Duration(c) / callers)
			next := time.Now()
			for i := range per {
				time.Sleep(time.Until(next))
				next = next.Add(every)
				start := time.Now()
				if err := j.Put(ctx, fullLease(c*per+i)); err != nil {
					b.Error(err)
					return
				}
				lat[c] = append(lat[c], time.Since(start))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	var all []time.Duration
	var sum time.Duration
	for _, l := range lat {
		all = append(all, l...)
		for _, d := range l {
			sum += d
		}
	}
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	b.ReportMetric(float64(sum.Microseconds())/float64(len(all))/1000, "ms/put")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms/put")
	st := j.Stats()
	if n := st.Commits - before.Commits; n > 0 {
		b.ReportMetric(float64(st.Records-before.Records)/float64(n), "leases/commit")
	}
}
