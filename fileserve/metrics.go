package fileserve

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/internal/obs"
)

// protocols are the access events' protocols, in the order of the
// metrics' per-protocol arrays.
var protocols = [...]string{"http", "https", "tftp"}

func protocolIndex(p string) int {
	for i, q := range protocols {
		if p == q {
			return i
		}
	}
	return -1
}

// counterRef holds a counter for an atomic.Pointer.
type counterRef struct{ prometheus.Counter }

// metrics are the file server's Prometheus series, registered on the
// registry the caller passes in (never the global one).
type metrics struct {
	requests         *prometheus.CounterVec
	bytesSent        *prometheus.CounterVec
	refused          *prometheus.CounterVec
	tftpRetransmits  prometheus.Counter
	tftpTimeouts     prometheus.Counter
	tlsHandshakeFail prometheus.Counter
	tlsHandshakes    prometheus.Counter
	duration         *prometheus.HistogramVec

	connWaits          prometheus.Counter // see connSlots
	connsClosedForRoom prometheus.Counter

	// Children of requests and bytesSent, looked up once: a lookup by
	// label values hashes them on every request.
	requestsBy [len(protocols)][600]atomic.Pointer[counterRef] // by protocol and status
	sentBy     [len(protocols)]prometheus.Counter
	durationBy [len(protocols)]prometheus.Observer
}

// durationBuckets suit phones: a cached file on the LAN in a millisecond or
// two, firmware over TFTP in tens of seconds; 1 ms to 60 s.
var durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

func newMetrics(reg prometheus.Registerer, active func(protocol string) float64, tftpMalformed, tftpRepeated func() float64) (*metrics, error) {
	m := &metrics{
		requests:         obs.CounterVec("phoneprov_fileserve_requests_total", "Finished file requests by protocol and status (TFTP outcomes use HTTP status numbers).", "protocol", "status"),
		bytesSent:        obs.CounterVec("phoneprov_fileserve_sent_bytes_total", "Body bytes sent by protocol.", "protocol"),
		refused:          obs.CounterVec("phoneprov_fileserve_refused_paths_total", "Requested names refused because they could leave the file root or are never served, by reason.", "reason"),
		tftpRetransmits:  obs.Counter("phoneprov_fileserve_tftp_retransmissions_total", "TFTP packets sent again after a timeout."),
		tftpTimeouts:     obs.Counter("phoneprov_fileserve_tftp_timeouts_total", "TFTP transfers given up because the client stopped answering."),
		tlsHandshakeFail: obs.Counter("phoneprov_fileserve_tls_handshake_failures_total", "TLS handshakes that failed."),
		tlsHandshakes: obs.Counter("phoneprov_fileserve_tls_handshakes_total",
			"TLS handshakes completed; with the failed ones, what the server's signatures cost (each is one, the most CPU an HTTPS connection takes)."),
		connWaits: obs.Counter("phoneprov_fileserve_connection_limit_waits_total",
			"New HTTP(S) connections that found fileserve.http.max_connections open and waited in the listen queue."),
		connsClosedForRoom: obs.Counter("phoneprov_fileserve_idle_connections_closed_total",
			"Idle keep-alive HTTP(S) connections closed early to make room under fileserve.http.max_connections."),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "phoneprov_fileserve_request_duration_seconds",
			Help:    "Time from a file request to its last byte (TFTP: the last acknowledged block), by protocol.",
			Buckets: durationBuckets,
		}, []string{"protocol"}),
	}
	collectors := []prometheus.Collector{m.requests, m.bytesSent, m.refused, m.tftpRetransmits, m.tftpTimeouts, m.tlsHandshakeFail, m.tlsHandshakes, m.duration,
		m.connWaits, m.connsClosedForRoom,
		obs.CounterFunc("phoneprov_fileserve_tftp_malformed_packets_total", "TFTP packets dropped because they could not be parsed.", tftpMalformed),
		obs.CounterFunc("phoneprov_fileserve_tftp_repeated_requests_total",
			"TFTP read requests that repeated a running one from the same client port (the client resent before an answer reached it); no second transfer starts.", tftpRepeated),
	}
	for _, p := range protocols {
		collectors = append(collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "phoneprov_fileserve_active_transfers",
			Help:        "Transfers in progress by protocol.",
			ConstLabels: prometheus.Labels{"protocol": p},
		}, func() float64 { return active(p) }))
	}
	if err := obs.Register(reg, "file server", collectors...); err != nil {
		return nil, err
	}
	for i, p := range protocols {
		m.sentBy[i] = m.bytesSent.WithLabelValues(p)
		m.durationBy[i] = m.duration.WithLabelValues(p)
	}
	return m, nil
}

func (m *metrics) observe(ev *AccessEvent) {
	i := protocolIndex(ev.Protocol)
	if i < 0 || ev.Status < 0 || ev.Status >= len(m.requestsBy[i]) {
		m.requests.WithLabelValues(ev.Protocol, strconv.Itoa(ev.Status)).Inc()
		m.bytesSent.WithLabelValues(ev.Protocol).Add(float64(ev.Bytes))
		m.duration.WithLabelValues(ev.Protocol).Observe(ev.Duration.Seconds())
		return
	}
	slot := &m.requestsBy[i][ev.Status]
	c := slot.Load()
	if c == nil {
		// Created on first use, so only statuses that happened are exported.
		c = &counterRef{m.requests.WithLabelValues(ev.Protocol, strconv.Itoa(ev.Status))}
		slot.Store(c) // a racing Store holds the same child
	}
	c.Inc()
	m.sentBy[i].Add(float64(ev.Bytes))
	m.durationBy[i].Observe(ev.Duration.Seconds())
}
