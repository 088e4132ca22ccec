package ha

import "fmt"

// State is a server's HA state, named as Kea names it on the wire
// (ha_service_states.cc, stateToString).
type State string

// The states of a hot-standby pair. Unavailable is what a server records
// for a partner it cannot reach; no server is ever in it.
const (
	Waiting        State = "waiting"
	Syncing        State = "syncing"
	Ready          State = "ready"
	HotStandby     State = "hot-standby"
	PartnerDown    State = "partner-down"
	Terminated     State = "terminated"
	InMaintenance  State = "in-maintenance"
	PartnerInMaint State = "partner-in-maintenance"
	LoadBalancing  State = "load-balancing"
	CommRecovery   State = "communication-recovery"
	Backup         State = "backup"
	PassiveBackup  State = "passive-backup"
	Unavailable    State = "unavailable"
)

// parseState reads a state name as Kea's stringToState does.
func parseState(s string) (State, error) {
	switch st := State(s); st {
	case Waiting, Syncing, Ready, HotStandby, PartnerDown, Terminated, InMaintenance,
		PartnerInMaint, LoadBalancing, CommRecovery, Backup, PassiveBackup, Unavailable:
		return st, nil
	}
	return "", fmt.Errorf("unknown HA state %q", s)
}

// serviceEnabled is whether DHCP is on in state s (adjustNetworkState):
// off while waiting, syncing and ready.
func serviceEnabled(s State) bool {
	switch s {
	case HotStandby, PartnerDown, Terminated, PartnerInMaint, CommRecovery, LoadBalancing, PassiveBackup:
		return true
	}
	return false
}

// view is what one step of the state machine looks at.
type view struct {
	self, partner State
	primary       bool // this server's role is primary
	backup        bool // this server's role is backup
	// interrupted: no answer from the partner for longer than
	// max-response-delay (isCommunicationInterrupted).
	interrupted bool
	// failure: more unanswered clients than max-unacked-clients
	// (failureDetected).
	failure bool
	// disabled: the partner's dhcp-disable is in force, so this server
	// sees no DHCP traffic to judge the partner by.
	disabled bool
	// skew: the partner's clock is more than a minute off
	// (clockSkewShouldTerminate).
	skew bool
	// partnerUnsent: the partner reports lease updates it could not send
	// us since we last looked (hasPartnerNewUnsentUpdates).
	partnerUnsent bool
}

// shouldPartnerDown is HAService::shouldPartnerDown for hot standby: the
// primary, or a standby whose DHCP service is off (by its state or by the
// partner's dhcp-disable: Kea asks network_state_->isServiceEnabled(),
// ha_service.cc, Kea-2.2.0, lines 1070-1093), declares the partner down
// as soon as the communication is interrupted; a serving standby also
// needs clients left unanswered.
func (v view) shouldPartnerDown() bool {
	if !v.interrupted {
		return false
	}
	if serviceEnabled(v.self) && !v.disabled && !v.primary {
		return v.failure
	}
	return true
}

// partnerInvalid is isPartnerStateInvalid for a hot-standby server.
func (v view) partnerInvalid() bool {
	return v.partner == LoadBalancing || v.partner == CommRecovery
}

// next is the state after one step from v.self, as Kea's state handlers
// (ha_service.cc) decide it for hot standby; next == v.self means no
// transition. Syncing's work (the lease synchronisation) is the caller's.
func next(v view) State {
	if v.backup {
		// A backup server goes from waiting to backup and stays there
		// (waitingStateHandler, backupStateHandler).
		return Backup
	}
	if v.self == Terminated {
		return Terminated
	}
	if v.skew {
		return Terminated
	}
	if v.partnerInvalid() {
		return Waiting
	}
	switch v.self {
	case Waiting:
		return nextWaiting(v)
	case Syncing:
		return nextSyncing(v)
	case Ready:
		return nextReady(v)
	case HotStandby:
		return nextNormal(v)
	case PartnerDown:
		return nextPartnerDown(v)
	}
	return v.self
}

func nextWaiting(v view) State {
	switch v.partner {
	case HotStandby, InMaintenance, PartnerDown, PartnerInMaint, Ready:
		return Syncing
	case Waiting:
		// Both waiting: the primary goes first.
		if v.primary {
			return Syncing
		}
	case Unavailable:
		if v.shouldPartnerDown() {
			return PartnerDown
		}
	}
	return Waiting
}

func nextSyncing(v view) State {
	switch v.partner {
	case Terminated:
		return Terminated
	case Unavailable:
		if v.shouldPartnerDown() {
			return PartnerDown
		}
	}
	return Syncing
}

func nextReady(v view) State {
	switch v.partner {
	case HotStandby:
		return HotStandby
	case InMaintenance:
		return PartnerInMaint
	case PartnerInMaint:
		return InMaintenance
	case Ready:
		// Both ready: the primary goes first.
		if v.primary {
			return HotStandby
		}
	case Terminated:
		return Terminated
	case Unavailable:
		if v.shouldPartnerDown() {
			return PartnerDown
		}
	}
	return Ready
}

func nextNormal(v view) State {
	switch v.partner {
	case InMaintenance:
		return PartnerInMaint
	case PartnerDown:
		return Waiting
	case PartnerInMaint:
		return InMaintenance
	case Terminated:
		return Terminated
	case Unavailable:
		if v.shouldPartnerDown() {
			return PartnerDown
		}
	}
	return v.self
}

func nextPartnerDown(v view) State {
	switch v.partner {
	case PartnerDown, PartnerInMaint:
		return Waiting
	case Ready:
		// The partner is back and synchronised; if it allocated leases it
		// could not tell us about, we synchronise too.
		if v.partnerUnsent {
			return Waiting
		}
		return HotStandby
	case Terminated:
		return Terminated
	}
	return PartnerDown
}
