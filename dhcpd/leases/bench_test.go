package leases

import (
	"context"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkPut measures durable Puts of one lease each on the file system of
// the benchmark's temporary directory, so the fsync cost is that disk's.
// "serial" is one caller waiting for each commit (a DHCP ACK's latency);
// "parallel64" is a worker pool of 64 callers whose Puts are group-committed.
// Each reports leases/s and leases/commit besides ns/op.
func BenchmarkPut(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		s := openBench(b)
		benchSerial(b, s.Put)
		report(b, s.Stats().Records, s.Stats().Commits)
	})
	b.Run("parallel64", func(b *testing.B) {
		s := openBench(b)
		benchParallel(b, s.Put)
		report(b, s.Stats().Records, s.Stats().Commits)
	})
}

// BenchmarkPutDBBatch is the same work through bbolt's db.Batch, which the
// store does not use: kept to show why (see committer).
func BenchmarkPutDBBatch(b *testing.B) {
	for _, delay := range []time.Duration{2 * time.Millisecond, 10 * time.Millisecond} {
		put := func(s *Bolt) func(ctx context.Context, ls ...Lease) error {
			s.db.MaxBatchDelay = delay
			return func(_ context.Context, ls ...Lease) error {
				return s.db.Batch(func(tx *bolt.Tx) error {
					for i := range ls {
						k := addrKey(ls[i].Addr)
						if err := tx.Bucket(leasesBucket).Put(k[:], encodeLease(nil, &ls[i])); err != nil {
							return err
						}
					}
					return nil
				})
			}
		}
		b.Run("serial/delay="+delay.String(), func(b *testing.B) {
			benchSerial(b, put(openBench(b)))
			report(b, uint64(b.N), 0)
		})
		b.Run("parallel64/delay="+delay.String(), func(b *testing.B) {
			benchParallel(b, put(openBench(b)))
			report(b, uint64(b.N), 0)
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

func openBench(b *testing.B) *Bolt {
	b.Helper()
	s, err := OpenBolt(filepath.Join(b.TempDir(), "leases.db"), BoltOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
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
