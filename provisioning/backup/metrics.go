package backup

import "github.com/prometheus/client_golang/prometheus"

// Reasons a request is refused, the values of the "reason" label.
const (
	reasonMethod      = "method"
	reasonTLS         = "tls_required"
	reasonAuth        = "unauthorized"
	reasonUserAgent   = "user_agent"
	reasonBadName     = "bad_name"
	reasonTooLarge    = "too_large"
	reasonFull        = "full"      // Config.MaxFiles reached
	reasonDiskFull    = "disk_full" // the disk is full or the quota used up
	reasonPartial     = "partial_put"
	reasonIncomplete  = "incomplete_body"
	reasonStoreFailed = "store_failed"
)

var allReasons = []string{reasonMethod, reasonTLS, reasonAuth, reasonUserAgent, reasonBadName,
	reasonTooLarge, reasonFull, reasonDiskFull, reasonPartial, reasonIncomplete, reasonStoreFailed}

// metrics are the backup store's Prometheus series.
type metrics struct {
	stored, restored, deleted prometheus.Counter
	refused                   *prometheus.CounterVec
	received, sent            prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, files func() float64) (*metrics, error) {
	m := &metrics{
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoneprov_backup_stored_total",
			Help: "Backup files stored (PUT) by phones.",
		}),
		restored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoneprov_backup_restored_total",
			Help: "Backup files served (GET) to phones.",
		}),
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoneprov_backup_deleted_total",
			Help: "Backup files deleted (DELETE) by phones.",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoneprov_backup_refused_total",
			Help: "Backup requests refused, by reason.",
		}, []string{"reason"}),
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoneprov_backup_received_bytes_total",
			Help: "Bytes of backup files stored.",
		}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoneprov_backup_sent_bytes_total",
			Help: "Bytes of backup files served.",
		}),
	}
	filesGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "phoneprov_backup_files",
		Help: "Backup files currently stored (current versions only).",
	}, files)
	for _, c := range []prometheus.Collector{m.stored, m.restored, m.deleted, m.refused, m.received, m.sent, filesGauge} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range allReasons {
		m.refused.WithLabelValues(r)
	}
	return m, nil
}
