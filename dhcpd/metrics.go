package dhcpd

import (
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/dhcpd/internal/alloc"
	"github.com/phoneprov/phoneprov/internal/obs"
)

// metrics are the DHCP server's Prometheus series, named after Kea's
// statistics (pkt4-discover-received → packets_received_total{type="discover"}),
// registered on the registry the caller passes in.
type metrics struct {
	received     *prometheus.CounterVec
	receivedType [9]prometheus.Counter // by message type; 0 = unknown
	parseFailed  prometheus.Counter
	sent         *prometheus.CounterVec
	sentOffer    prometheus.Counter
	sentAck      prometheus.Counter
	sentNak      prometheus.Counter
	queueDrops   prometheus.Counter
	declines     prometheus.Counter
	dropped      *prometheus.CounterVec
	allocFail    *prometheus.CounterVec
	conflicts    prometheus.Counter
	reclaimed    prometheus.Counter
	// rateClient and rateRelay are dropped{reason="rate_limit_..."}.
	rateClient, rateRelay prometheus.Counter
	storeErrors           prometheus.Counter
	sendErrors            prometheus.Counter
}

// Reasons a received packet is dropped without a reply, the values of the
// "reason" label. Like every phoneprov label value, snake_case.
const (
	dropNotForUs     = "not_for_us"        // a reply, BOOTP, or too many hops
	dropNoSubnet     = "no_subnet"         // no subnet serves the link or relay
	dropOtherServer  = "other_server"      // a REQUEST or RELEASE for another server
	dropInvalid      = "invalid"           // a message missing what its type needs
	dropUnknownLease = "unknown_lease"     // RELEASE or DECLINE for a lease the client does not hold
	dropSilent       = "not_authoritative" // a NAK withheld because the server is not authoritative
	dropChecking     = "address_check"     // answered after the address check ends
	dropStore        = "store_error"       // the lease could not be stored
	// dropUnclassifiedLimit: a DISCOVER from a client in no class when the
	// subnet's unclassified_limit is reached.
	dropUnclassifiedLimit = "unclassified_limit"
	dropRateClient        = "rate_limit_client" // over [dhcp.rate_limit] client_rate
	dropRateRelay         = "rate_limit_relay"  // over [dhcp.rate_limit] relay_rate
	// dropHAOther: the HA partner serves the client now ([dhcp.ha]).
	dropHAOther = "ha_partner_serves"
	// dropHAUnacked: the HA partner did not acknowledge the lease, so the
	// ACK is withheld.
	dropHAUnacked = "ha_partner_unacked"
)

// typeParseFailed is the "type" of a received packet that is not a DHCP
// message.
const typeParseFailed = "parse_failed"

func newMetrics(reg prometheus.Registerer, pol *policy, al *alloc.Allocator) (*metrics, error) {
	m := &metrics{
		received:    obs.CounterVec("phoneprov_dhcp_packets_received_total", "DHCP packets received, by message type (parse_failed: not a DHCP message).", "type"),
		sent:        obs.CounterVec("phoneprov_dhcp_packets_sent_total", "DHCP replies sent, by message type.", "type"),
		queueDrops:  obs.Counter("phoneprov_dhcp_queue_drops_total", "Packets dropped because every worker was busy and the queue stayed full for 50 ms."),
		declines:    obs.Counter("phoneprov_dhcp_declines_total", "Addresses clients declined (found in use); each goes on probation."),
		dropped:     obs.CounterVec("phoneprov_dhcp_packets_dropped_total", "Received DHCP messages answered with nothing, by reason.", "reason"),
		allocFail:   obs.CounterVec("phoneprov_dhcp_allocation_failures_total", "DISCOVERs left unanswered because the subnet had no free address.", "subnet"),
		reclaimed:   obs.Counter("phoneprov_dhcp_offers_reclaimed_total", "Addresses taken from an offer older than pressure_offer_hold, not yet requested, because the pool had no free address."),
		conflicts:   obs.Counter("phoneprov_dhcp_address_conflicts_total", "Addresses found in use by the address check before an offer; each goes on probation."),
		storeErrors: obs.Counter("phoneprov_dhcp_lease_store_errors_total", "Lease writes that failed; the ACK is withheld."),
		sendErrors:  obs.Counter("phoneprov_dhcp_send_errors_total", "Replies the kernel refused to send."),
	}
	for i := range m.receivedType {
		name := "unknown"
		if i > 0 {
			name = strings.ToLower(dhcpv4.MessageType(i).String())
		}
		m.receivedType[i] = m.received.WithLabelValues(name)
	}
	m.parseFailed = m.received.WithLabelValues(typeParseFailed)
	m.sentOffer = m.sent.WithLabelValues("offer")
	m.sentAck = m.sent.WithLabelValues("ack")
	m.sentNak = m.sent.WithLabelValues("nak")
	for _, r := range []string{dropNotForUs, dropNoSubnet, dropOtherServer, dropInvalid, dropUnknownLease, dropSilent, dropChecking, dropStore,
		dropUnclassifiedLimit, dropHAOther, dropHAUnacked} {
		m.dropped.WithLabelValues(r)
	}
	m.rateClient = m.dropped.WithLabelValues(dropRateClient)
	m.rateRelay = m.dropped.WithLabelValues(dropRateRelay)
	for _, s := range pol.subnets {
		m.allocFail.WithLabelValues(s.label)
	}
	if err := obs.Register(reg, "dhcp", m.received, m.sent, m.queueDrops, m.declines, m.dropped, m.allocFail,
		m.conflicts, m.reclaimed, m.storeErrors, m.sendErrors, &poolCollector{pol: pol, al: al}); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) receivedOf(t dhcpv4.MessageType) prometheus.Counter {
	if int(t) < len(m.receivedType) {
		return m.receivedType[t]
	}
	return m.receivedType[0]
}

// poolCollector reports the pool and unclassified gauges from the
// allocator at scrape time.
type poolCollector struct {
	pol *policy
	al  *alloc.Allocator
}

// The pool gauges follow Kea's statistics: phoneprov_dhcp_pool_size is
// total-addresses, phoneprov_dhcp_pool_addresses{state} splits it into
// assigned-addresses, declined-addresses and the free rest, so a sum over
// the states is the size. A gauge takes no _total suffix, which Prometheus
// keeps for counters.
var (
	poolSizeDesc = prometheus.NewDesc("phoneprov_dhcp_pool_size",
		"Addresses of each pool, less reservations (Kea's total-addresses).",
		[]string{"subnet", "pool"}, nil)
	poolDesc = prometheus.NewDesc("phoneprov_dhcp_pool_addresses",
		"Addresses of each pool by state: assigned (active leases), declined (on probation), free; they add up to phoneprov_dhcp_pool_size.",
		[]string{"subnet", "pool", "state"}, nil)
	unclassifiedDesc = prometheus.NewDesc("phoneprov_dhcp_unclassified_addresses",
		"Addresses of each subnet's open pools held by clients in no class (leases and offers).",
		[]string{"subnet"}, nil)
	unclassifiedLimitDesc = prometheus.NewDesc("phoneprov_dhcp_unclassified_limit",
		"The unclassified_limit of each subnet that has one.",
		[]string{"subnet"}, nil)
)

// Describe sends every descriptor Collect uses.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolSizeDesc
	ch <- poolDesc
	ch <- unclassifiedDesc
	ch <- unclassifiedLimitDesc
}

// Collect sends the current counts of every pool and subnet.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, n int, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(n), labels...)
	}
	counts := c.al.Counts()
	for i, sc := range counts {
		s := c.pol.subnets[i]
		for j, p := range sc.Pools {
			pool := s.pools[j].label
			gauge(poolSizeDesc, p.Total, s.label, pool)
			gauge(poolDesc, p.Assigned, s.label, pool, "assigned")
			gauge(poolDesc, p.Declined, s.label, pool, "declined")
			gauge(poolDesc, p.Free(), s.label, pool, "free")
		}
	}
	for i, sc := range counts {
		label := c.pol.subnets[i].label
		gauge(unclassifiedDesc, sc.Unclassified, label)
		if sc.UnclassifiedMax >= 0 {
			gauge(unclassifiedLimitDesc, sc.UnclassifiedMax, label)
		}
	}
}
