package admin

import (
	"fmt"
	"net/http"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/ha"
)

// Pair is the DHCP high-availability pair as the status page reads it
// (*ha.Service implements it).
type Pair interface {
	Report() ha.Report
}

// haView is the pair's section of the status page and GET /api/ha.
type haView struct {
	Enabled bool `json:"enabled"` // [dhcp.ha] is on; nothing else is set when it is not
	// Verdict sums the pair up in one line; Level is ok, warn or err.
	Verdict string `json:"verdict,omitempty"`
	Level   string `json:"level,omitempty"`

	Mode          string   `json:"mode,omitempty"`
	Server        string   `json:"server,omitempty"`
	Role          string   `json:"role,omitempty"`
	State         string   `json:"state,omitempty"`
	Scopes        []string `json:"scopes,omitempty"`
	DHCPEnabled   bool     `json:"dhcp_enabled"`
	UnsentUpdates int64    `json:"unsent_updates"`
	// LastSync is when the last lease synchronisation from the partner
	// completed (absent before any), with the leases the partner sent
	// and those applied here.
	LastSync        time.Time `json:"last_sync,omitzero"`
	LastSyncLeases  int       `json:"last_sync_leases"`
	LastSyncApplied int       `json:"last_sync_applied"`

	Partner *partnerView `json:"partner,omitempty"`
}

// partnerView is what this box knows of its partner, named as Kea's
// status-get names it (with underscores).
type partnerView struct {
	Name                     string    `json:"name"`
	Role                     string    `json:"role"`
	URL                      string    `json:"url"`
	State                    string    `json:"last_state"`
	Scopes                   []string  `json:"last_scopes"`
	InTouch                  bool      `json:"in_touch"`
	LastContact              time.Time `json:"last_contact,omitzero"`
	AgeSeconds               int64     `json:"age"`
	CommunicationInterrupted bool      `json:"communication_interrupted"`
	ConnectingClients        int       `json:"connecting_clients"`
	UnackedClients           int       `json:"unacked_clients"`
	UnackedClientsLeft       int       `json:"unacked_clients_left"`
	AnalyzedPackets          int64     `json:"analyzed_packets"`
	UnsentUpdates            int64     `json:"unsent_updates"`
	ClockSkewSeconds         float64   `json:"clock_skew_seconds"`
}

// haView reads the pair; Enabled is false when the appliance has none.
func (s *Site) haView() haView {
	if s.Pair == nil {
		return haView{}
	}
	r := s.Pair.Report()
	v := haView{
		Enabled: true, Mode: r.Mode, Server: r.Server, Role: r.Role, State: string(r.State), Scopes: r.Scopes,
		DHCPEnabled: r.DHCPEnabled, UnsentUpdates: r.UnsentUpdates,
		LastSync: r.LastSync, LastSyncLeases: r.LastSyncLeases, LastSyncApplied: r.LastSyncApplied,
		Partner: &partnerView{
			Name: r.Partner, Role: r.PartnerRole, URL: r.PartnerURL, State: string(r.PartnerState), Scopes: r.PartnerScopes,
			InTouch: r.InTouch, LastContact: r.LastContact, AgeSeconds: int64(r.Age / time.Second),
			CommunicationInterrupted: r.CommunicationInterrupted, ConnectingClients: r.ConnectingClients,
			UnackedClients: r.UnackedClients, UnackedClientsLeft: r.UnackedClientsLeft, AnalyzedPackets: r.AnalyzedPackets,
			UnsentUpdates: r.PartnerUnsentUpdates, ClockSkewSeconds: r.ClockSkew.Seconds(),
		},
	}
	v.Level, v.Verdict = verdict(r)
	return v
}

// verdict is the pair's state in words for the operator, with a level:
// ok when the pair works as configured, warn when one box serves alone or
// the partner is silent, err when the pair stopped.
func verdict(r ha.Report) (level, text string) {
	serving := "stands by"
	if r.DHCPEnabled {
		serving = "answers DHCP"
	}
	switch r.State {
	case ha.HotStandby:
		if r.CommunicationInterrupted {
			return "warn", fmt.Sprintf("the partner %s has not answered for %s; this box (%s) %s", r.Partner, r.Age.Round(time.Second), r.Role, serving)
		}
		return "ok", fmt.Sprintf("paired: this box is the %s and %s; %s is %s", r.Role, serving, r.Partner, r.PartnerState)
	case ha.PartnerDown:
		return "warn", fmt.Sprintf("partner down: this box serves alone; %d lease update(s) to bring %s up to date when it returns", r.UnsentUpdates, r.Partner)
	case ha.Terminated:
		return "err", "terminated: the pair stopped (clocks more than 60 s apart, or the partner terminated); fix the cause and restart both boxes"
	case ha.Waiting, ha.Syncing, ha.Ready:
		return "warn", fmt.Sprintf("starting (%s): DHCP stays off until the pair is in step with %s (%s)", r.State, r.Partner, r.PartnerState)
	}
	return "warn", fmt.Sprintf("%s; the partner is %s", r.State, r.PartnerState)
}

// haJSON is GET /api/ha: {"enabled": false} alone without a pair.
func (s *Site) haJSON(w http.ResponseWriter, _ *http.Request) {
	v := s.haView()
	if !v.Enabled {
		writeJSON(w, map[string]bool{"enabled": false})
		return
	}
	writeJSON(w, v)
}
