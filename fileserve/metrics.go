package fileserve

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the file server's Prometheus series, registered on the
// registry the caller passes in (never the global one).
type metrics struct {
	requests         *prometheus.CounterVec
	bytesSent        *prometheus.CounterVec
	refused          *prometheus.CounterVec
	tftpRetransmits  prometheus.Counter
	tftpTimeouts     prometheus.Counter
	tlsHandshakeFail prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, active func(protocol string) float64, tftpMalformed func() float64) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoneprov_fileserve_requests_total",
			Help: "Finished file requests by protocol and status (TFTP outcomes use HTTP status numbers).",
		}, []string{"protocol", "status"}),
		bytesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoneprov_fileserve_sent_bytes_total",
			Help: "Body bytes sent by protocol.",
		}, []string{"protocol"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoneprov_fileserve_refused_paths_total",
			Help: "Requested names refused because they could leave the file root or are never served, by reason.",
		}, []string{"reason"}),
		tftpRetransmits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoneprov_fileserve_tftp_retransmissions_total",
			Help: "TFTP packets sent again after a timeout.",
		}),
		tftpTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoneprov_fileserve_tftp_timeouts_total",
			Help: "TFTP transfers given up because the client stopped answering.",
		}),
		tlsHandshakeFail: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoneprov_fileserve_tls_handshake_failures_total",
			Help: "TLS handshakes that failed.",
		}),
	}
	collectors := []prometheus.Collector{m.requests, m.bytesSent, m.refused, m.tftpRetransmits, m.tftpTimeouts, m.tlsHandshakeFail,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "phoneprov_fileserve_tftp_malformed_packets_total",
			Help: "TFTP packets dropped because they could not be parsed.",
		}, tftpMalformed),
	}
	for _, p := range []string{"http", "https", "tftp"} {
		collectors = append(collectors, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "phoneprov_fileserve_active_transfers",
			Help:        "Transfers in progress by protocol.",
			ConstLabels: prometheus.Labels{"protocol": p},
		}, func() float64 { return active(p) }))
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, p := range []string{"http", "https", "tftp"} {
		m.bytesSent.WithLabelValues(p)
	}
	return m, nil
}

func (m *metrics) observe(ev AccessEvent) {
	m.requests.WithLabelValues(ev.Protocol, strconv.Itoa(ev.Status)).Inc()
	m.bytesSent.WithLabelValues(ev.Protocol).Add(float64(ev.Bytes))
}
