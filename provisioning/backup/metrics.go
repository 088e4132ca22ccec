package backup

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/internal/obs"
)

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
		stored:   obs.Counter("phoneprov_backup_stored_total", "Backup files stored (PUT) by phones."),
		restored: obs.Counter("phoneprov_backup_restored_total", "Backup files served (GET) to phones."),
		deleted:  obs.Counter("phoneprov_backup_deleted_total", "Backup files deleted (DELETE) by phones."),
		refused:  obs.CounterVec("phoneprov_backup_refused_total", "Backup requests refused, by reason.", "reason"),
		received: obs.Counter("phoneprov_backup_received_bytes_total", "Bytes of backup files stored."),
		sent:     obs.Counter("phoneprov_backup_sent_bytes_total", "Bytes of backup files served."),
	}
	filesGauge := obs.GaugeFunc("phoneprov_backup_files", "Backup files currently stored (current versions only).", files)
	if err := obs.Register(reg, "backup", m.stored, m.restored, m.deleted, m.refused, m.received, m.sent, filesGauge); err != nil {
		return nil, err
	}
	for _, r := range allReasons {
		m.refused.WithLabelValues(r)
	}
	return m, nil
}
