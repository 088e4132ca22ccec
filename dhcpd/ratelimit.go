package dhcpd

import (
	"encoding/binary"
	"hash/maphash"
	"sync/atomic"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/phoneprov/phoneprov/dhcpd/internal/wire"
)

// The rate limits are token buckets kept as GCRA "theoretical arrival
// times": one int64 per bucket, updated with a compare-and-swap, so the
// readers check a packet without a lock and without allocating. Buckets
// live in a fixed table indexed by a seeded hash of the key; clients that
// share a slot share a bucket. A flood of random keys spreads over the
// whole table (each slot then sees a tiny share of it), and since the
// seed is random per server, nobody can aim packets at a chosen client's
// slot. Memory stays fixed whatever the flood.

// limiterSlots is the number of buckets per limit (a power of two).
const limiterSlots = 1 << 14

// bucketTable is one limit: a rate with a burst on top, per key.
type bucketTable struct {
	interval  int64 // nanoseconds per packet at the sustained rate
	tolerance int64 // burst × interval
	seed      maphash.Seed
	slots     []atomic.Int64
}

// newBucketTable returns the limit for rate packets a second and burst
// packets at once, or nil when rate is 0 (no limit).
func newBucketTable(rate, burst int) *bucketTable {
	if rate <= 0 {
		return nil
	}
	iv := int64(1e9) / int64(rate)
	return &bucketTable{interval: iv, tolerance: int64(burst) * iv, seed: maphash.MakeSeed(),
		slots: make([]atomic.Int64, limiterSlots)}
}

// allow takes a token for key at now (nanoseconds on a monotonic clock,
// never negative) and reports whether there was one.
func (t *bucketTable) allow(key []byte, now int64) bool {
	s := &t.slots[t.slot(key)]
	for {
		tat := s.Load()
		next := max(tat, now) + t.interval
		if next-now > t.tolerance {
			return false
		}
		if s.CompareAndSwap(tat, next) {
			return true
		}
	}
}

// slot is the index of key's bucket; keys that share one share a limit.
func (t *bucketTable) slot(key []byte) uint64 {
	return maphash.Bytes(t.seed, key) & (limiterSlots - 1)
}

// rateLimits are the [dhcp.rate_limit] limits; nil fields are off.
type rateLimits struct {
	client, relay *bucketTable
}

func newRateLimits(c RateLimitConfig) *rateLimits {
	return &rateLimits{client: newBucketTable(c.ClientRate, c.ClientBurst), relay: newBucketTable(c.RelayRate, c.RelayBurst)}
}

// limitVerdict says whether a packet passes and, if not, which limit
// stopped it.
type limitVerdict uint8

const (
	limitPass limitVerdict = iota
	limitClient
	limitRelay
)

// check applies the limits to a raw packet at now. It reads only the
// header and the option 82 bytes; a packet too short to be DHCP passes,
// for the handler to count as malformed.
func (l *rateLimits) check(p []byte, now int64) limitVerdict {
	if !wire.HasCookie(p) {
		return limitPass
	}
	if l.client != nil {
		hlen := min(int(p[2]), 16)
		if !l.client.allow(p[28:28+hlen], now) {
			return limitClient
		}
	}
	if l.relay != nil {
		giaddr := p[24:28]
		circuit, remote, agent := relayAgentIDs(p[wire.MinLen:])
		if agent || binary.BigEndian.Uint32(giaddr) != 0 {
			// giaddr, then each ID behind its length, on the stack.
			var buf [4 + 2 + 2*255]byte
			key := append(buf[:0], giaddr...)
			key = append(append(key, byte(len(circuit))), circuit...)
			key = append(append(key, byte(len(remote))), remote...)
			if !l.relay.allow(key, now) {
				return limitRelay
			}
		}
	}
	return limitPass
}

// relayAgentIDs finds option 82 in the options area and returns its
// circuit-id and remote-id sub-options (RFC 3046), and whether the option
// is there at all. It stops at End, at a malformed length, or at the end
// of the data.
func relayAgentIDs(opts []byte) (circuit, remote []byte, found bool) {
	agent := dhcpv4.OptionRelayAgentInformation.Code()
	for i := 0; i < len(opts); {
		code := opts[i]
		if code == dhcpv4.OptionPad.Code() {
			i++
			continue
		}
		if code == dhcpv4.OptionEnd.Code() || i+1 >= len(opts) {
			return circuit, remote, found
		}
		n := int(opts[i+1])
		if i+2+n > len(opts) {
			return circuit, remote, found
		}
		if code == agent {
			found = true
			sub := opts[i+2 : i+2+n]
			for j := 0; j+1 < len(sub); {
				m := int(sub[j+1])
				if j+2+m > len(sub) {
					break
				}
				switch sub[j] {
				case uint8(dhcpv4.AgentCircuitIDSubOption):
					circuit = sub[j+2 : j+2+m]
				case uint8(dhcpv4.AgentRemoteIDSubOption):
					remote = sub[j+2 : j+2+m]
				}
				j += 2 + m
			}
		}
		i += 2 + n
	}
	return circuit, remote, found
}
