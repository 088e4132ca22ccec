package ha

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// The pair's Prometheus series, read from Report at each scrape. They
// follow the statistics Kea 2.2's HA hook reports for the partner in
// status-get (CommunicationState::getReport): the names are Kea's with
// dashes made underscores, under phoneprov_ha_.
var (
	descState = prometheus.NewDesc("phoneprov_ha_state",
		"This server's HA state: 1 for the state it is in (Kea's state names, dashes made underscores).", []string{"state"}, nil)
	descPartnerState = prometheus.NewDesc("phoneprov_ha_partner_state",
		"The partner's HA state as last heard (Kea's last-state): 1 for that state; unavailable when it does not answer.", []string{"state"}, nil)
	descDHCPEnabled = prometheus.NewDesc("phoneprov_ha_dhcp_enabled",
		"1 when this server answers DHCP clients now (its state serves and the partner has not disabled it).", nil, nil)
	descInTouch = prometheus.NewDesc("phoneprov_ha_partner_in_touch",
		"1 once the partner has answered at least once (Kea's in-touch).", nil, nil)
	descAge = prometheus.NewDesc("phoneprov_ha_partner_age_seconds",
		"Seconds since the partner last answered (Kea's age); 0 before it ever did.", nil, nil)
	descInterrupted = prometheus.NewDesc("phoneprov_ha_communication_interrupted",
		"1 when the partner has been silent for longer than max_response_delay (Kea's communication-interrupted).", nil, nil)
	descConnecting = prometheus.NewDesc("phoneprov_ha_connecting_clients",
		"Clients seen asking the partner since the communication was interrupted (Kea's connecting-clients).", nil, nil)
	descUnacked = prometheus.NewDesc("phoneprov_ha_unacked_clients",
		"Of those, the clients waiting longer than max_ack_delay (Kea's unacked-clients).", nil, nil)
	descUnackedLeft = prometheus.NewDesc("phoneprov_ha_unacked_clients_left",
		"How many more unacked clients make the partner down (Kea's unacked-clients-left).", nil, nil)
	descAnalyzed = prometheus.NewDesc("phoneprov_ha_analyzed_packets",
		"Packets to the partner looked at since the communication was interrupted (Kea's analyzed-packets).", nil, nil)
	descUnsent = prometheus.NewDesc("phoneprov_ha_unsent_updates",
		"Lease updates made in partner-down that the partner was not sent (Kea's unsent-update-count).", nil, nil)
	descPartnerUnsent = prometheus.NewDesc("phoneprov_ha_partner_unsent_updates",
		"The partner's own unsent-update-count, from its last heartbeat.", nil, nil)
	descSkew = prometheus.NewDesc("phoneprov_ha_clock_skew_seconds",
		"The partner's clock minus ours at the last heartbeat; beyond 60 s either way the pair terminates.", nil, nil)
	descBackupSent = prometheus.NewDesc("phoneprov_ha_backup_updates_sent_total",
		"Lease updates a backup server took (lease4-update, lease4-del); the ACK never waits for them.", []string{"backup"}, nil)
	descBackupFailed = prometheus.NewDesc("phoneprov_ha_backup_updates_failed_total",
		"Lease updates a backup server did not take: refused, unreachable, or dropped when its queue was full.", []string{"backup"}, nil)
	descBackupQueued = prometheus.NewDesc("phoneprov_ha_backup_updates_queued",
		"Lease updates waiting to be sent to a backup server.", []string{"backup"}, nil)
)

// serverStates are the states phoneprov_ha_state has a series for: those
// a hot-standby server can be in.
var serverStates = []State{Waiting, Syncing, Ready, HotStandby, PartnerDown, Terminated, InMaintenance, PartnerInMaint, Backup}

// collector reads the service at scrape time.
type collector struct{ s *Service }

// Collector returns the pair's Prometheus series (phoneprov_ha_*), for a
// registry.
func (s *Service) Collector() prometheus.Collector { return collector{s} }

// Describe implements prometheus.Collector.
func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descState, descPartnerState, descDHCPEnabled, descInTouch, descAge, descInterrupted,
		descConnecting, descUnacked, descUnackedLeft, descAnalyzed, descUnsent, descPartnerUnsent, descSkew,
		descBackupSent, descBackupFailed, descBackupQueued} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	r := c.s.Report()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, st := range serverStates {
		gauge(descState, flag(r.State == st), metricLabel(st))
	}
	for _, st := range append(serverStates, Unavailable) {
		gauge(descPartnerState, flag(r.PartnerState == st), metricLabel(st))
	}
	gauge(descDHCPEnabled, flag(r.DHCPEnabled))
	gauge(descInTouch, flag(r.InTouch))
	gauge(descAge, r.Age.Seconds())
	gauge(descInterrupted, flag(r.CommunicationInterrupted))
	gauge(descConnecting, float64(r.ConnectingClients))
	gauge(descUnacked, float64(r.UnackedClients))
	gauge(descUnackedLeft, float64(r.UnackedClientsLeft))
	gauge(descAnalyzed, float64(r.AnalyzedPackets))
	gauge(descUnsent, float64(r.UnsentUpdates))
	gauge(descPartnerUnsent, float64(r.PartnerUnsentUpdates))
	gauge(descSkew, r.ClockSkew.Seconds())
	for _, b := range r.Backups {
		ch <- prometheus.MustNewConstMetric(descBackupSent, prometheus.CounterValue, float64(b.Sent), b.Name)
		ch <- prometheus.MustNewConstMetric(descBackupFailed, prometheus.CounterValue, float64(b.Failed), b.Name)
		gauge(descBackupQueued, float64(b.Queued), b.Name)
	}
}

// metricLabel is a state's name as a label value: snake_case.
func metricLabel(s State) string { return strings.ReplaceAll(string(s), "-", "_") }

func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
