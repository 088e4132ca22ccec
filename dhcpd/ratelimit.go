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
//
// The client table grows with the site (clientSlots): when every phone
// reboots at once, each sends a DISCOVER and a REQUEST within a second,
// and a slot that several phones share sees all of theirs. With 16,384
// slots for 30,000 phones about 180 slots hold six phones or more (a
// Poisson estimate), past the default burst of 10: dhcpbench's mass
// reboot lost 142 packets to this limit (phoneprov_dhcp_packets_dropped_total
// {reason="rate_limit_client"}), and phones whose retransmission was
// refused again were bound only after 12.7 s. With two slots a phone, six
// on one slot happens in about one such reboot of forty (8 of 300 runs of
// TestMassRebootPassesTheClientLimit), and costs its phones one
// retransmission.

// Table sizes (powers of two): the relay table, and the bounds of the
// client table.
const (
	relaySlots     = 1 << 14
	minClientSlots = 1 << 14 // a flood of random MACs spreads thin whatever the site's size
	maxClientSlots = 1 << 18 // 2 MiB, for sites of 131,072 clients and more
	slotsPerClient = 2
)

// clientSlots is the client table's size for a site whose subnets can
// give clients addresses: slotsPerClient for each, rounded up to a power
// of two, within [minClientSlots, maxClientSlots].
func clientSlots(clients int) int {
	n := minClientSlots
	for n < clients*slotsPerClient && n < maxClientSlots {
		n *= 2
	}
	return n
}

// bucketTable is one limit: a rate with a burst on top, per key.
type bucketTable struct {
	interval  int64 // nanoseconds per packet at the sustained rate
	tolerance int64 // burst × interval
	seed      maphash.Seed
	slots     []atomic.Int64 // a power of two of them
}

// newBucketTable returns the limit for rate packets a second and burst
// packets at once with the given number of slots (a power of two), or nil
// when rate is 0 (no limit).
func newBucketTable(rate, burst, slots int) *bucketTable {
	if rate <= 0 {
		return nil
	}
	iv := int64(1e9) / int64(rate)
	return &bucketTable{interval: iv, tolerance: int64(burst) * iv, seed: maphash.MakeSeed(),
		slots: make([]atomic.Int64, slots)}
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
	return maphash.Bytes(t.seed, key) & uint64(len(t.slots)-1)
}

// rateLimits are the [dhcp.rate_limit] limits; nil fields are off.
type rateLimits struct {
	client, relay *bucketTable
}

// newRateLimits returns the limits of c for a site that can give clients
// addresses (pool addresses and reservations).
func newRateLimits(c RateLimitConfig, clients int) *rateLimits {
	return &rateLimits{client: newBucketTable(c.ClientRate, c.ClientBurst, clientSlots(clients)),
		relay: newBucketTable(c.RelayRate, c.RelayBurst, relaySlots)}
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
