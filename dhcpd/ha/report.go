package ha

import (
	"slices"
	"time"
)

// Report is the pair as the operator sees it: this server's side and what
// it knows of its partner, with the fields Kea's status-get reports for
// the remote server (CommunicationState::getReport, Kea 2.2) under their
// Kea names in the comments.
type Report struct {
	Mode string // ha-mode
	// This server.
	Server, Role string
	State        State
	Scopes       []string
	// DHCPEnabled: this server answers clients now (its state serves and
	// the partner has not disabled it).
	DHCPEnabled bool
	// UnsentUpdates are the lease updates made in partner-down that the
	// partner was not sent (unsent-update-count).
	UnsentUpdates int64
	// LastSync is when the last lease synchronisation from the partner
	// (lease4-get-page, after a restart) completed; zero when none has.
	// LastSyncLeases is the leases the partner sent then, LastSyncApplied
	// those newer than this server's and so written.
	LastSync                        time.Time
	LastSyncLeases, LastSyncApplied int
	// The partner.
	Partner, PartnerRole, PartnerURL string
	PartnerState                     State    // last-state; Unavailable when not reachable
	PartnerScopes                    []string // last-scopes
	// InTouch: the partner has answered at least once (in-touch).
	InTouch bool
	// LastContact is when the partner last answered (zero before it ever
	// did); Age is the time since (age).
	LastContact time.Time
	Age         time.Duration
	// CommunicationInterrupted: silent for longer than max_response_delay
	// (communication-interrupted).
	CommunicationInterrupted bool
	// ConnectingClients are the clients seen asking the partner since
	// the communication was interrupted (connecting-clients), UnackedClients
	// those of them waiting longer than max_ack_delay (unacked-clients),
	// UnackedClientsLeft how many more make the partner down
	// (unacked-clients-left) and AnalyzedPackets the packets looked at
	// (analyzed-packets).
	ConnectingClients, UnackedClients, UnackedClientsLeft int
	AnalyzedPackets                                       int64
	// PartnerUnsentUpdates is the partner's own unsent-update-count, from
	// its last heartbeat.
	PartnerUnsentUpdates int64
	// ClockSkew is the partner's clock minus ours, from the last
	// heartbeat; more than a minute either way terminates the pair.
	ClockSkew time.Duration
	// Backups are the backup servers this active server sends its lease
	// updates to, in configuration order.
	Backups []BackupReport
}

// Report returns a snapshot of the pair, safe to keep.
func (s *Service) Report() Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	r := Report{
		Mode: s.cfg.Mode, Server: s.this.Name, Role: s.this.Role, State: s.state, Scopes: s.scopesLocked(),
		DHCPEnabled: s.serviceOnLocked(now), UnsentUpdates: s.unsent,
		Partner: s.partner.Name, PartnerRole: s.partner.Role, PartnerURL: s.partner.URL,
		PartnerState: s.comm.partner, PartnerScopes: slices.Clone(s.comm.scopes),
		InTouch:                  s.comm.everTouched,
		CommunicationInterrupted: s.comm.interrupted(now, s.cfg.MaxResponseDelay),
		ConnectingClients:        len(s.comm.clients), UnackedClients: s.comm.unacked, AnalyzedPackets: s.comm.analyzed,
		PartnerUnsentUpdates: s.comm.unsent,
		LastSync:             s.lastSync, LastSyncLeases: s.lastSyncPulled, LastSyncApplied: s.lastSyncApplied,
	}
	for _, b := range s.backups {
		r.Backups = append(r.Backups, b.report())
	}
	if r.PartnerScopes == nil {
		r.PartnerScopes = []string{}
	}
	if r.InTouch {
		r.LastContact = s.comm.lastContact
		r.Age = now.Sub(r.LastContact)
		// The skew is measured at a heartbeat: the partner's time minus ours.
		r.ClockSkew = -s.comm.skew
	}
	if r.CommunicationInterrupted && s.cfg.MaxUnackedClients >= r.UnackedClients {
		r.UnackedClientsLeft = s.cfg.MaxUnackedClients - r.UnackedClients + 1
	}
	return r
}
