package ha

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
	"github.com/phoneprov/phoneprov/internal/obs"
)

// LeaseDB is the local DHCP server's leases as the HA service reads and
// writes them (dhcpd.Server implements it).
type LeaseDB interface {
	// Leases returns every lease record, ordered by address.
	Leases() []leases.Lease
	// ApplyLeases makes the partner's leases durable and puts them in
	// the server's memory.
	ApplyLeases(ctx context.Context, ls []leases.Lease) error
	// SubnetID is Kea's subnet-id for addr: 1 + the index of its
	// [[dhcp.subnet]], 0 when none holds it.
	SubnetID(addr netip.Addr) int64
}

// Options are what the service needs besides its configuration.
type Options struct {
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// maxSteps bounds the transitions taken in one run of the state machine.
const maxSteps = 8

// skewTerminate is the clock difference that stops the pair
// (CommunicationState::clockSkewShouldTerminate: 60 s).
const skewTerminate = 60 * time.Second

// Service is this server's half of the pair. It implements the dhcpd
// partner hooks (Admit, LeasesCommitted) and answers the partner's
// commands (Handler).
type Service struct {
	cfg           Config
	this, partner PeerConfig
	log           *slog.Logger
	now           func() time.Time
	client        *peerClient // to the partner; nil on a backup server
	backups       []*backupSender
	serverTLS     *tls.Config // nil without TLS
	started       time.Time
	kick          chan struct{} // a heartbeat and a run of the state machine now
	step          chan struct{} // a run of the state machine now

	mu    sync.Mutex
	state State
	comm  comm
	// disabled: the partner sent dhcp-disable; until disabledUntil when
	// it gave a max-period.
	disabled      bool
	disabledUntil time.Time
	unsent        int64 // lease updates not sent in partner-down
	syncNotified  bool
	// lastSync is when the last lease synchronisation from the partner
	// completed; lastSyncPulled the leases it sent, lastSyncApplied
	// those newer than ours.
	lastSync                        time.Time
	lastSyncPulled, lastSyncApplied int
	db                              LeaseDB
	ln                              net.Listener
}

// New prepares the service from a validated, enabled configuration.
func New(cfg Config, opts Options) (*Service, error) {
	if !cfg.Enabled {
		return nil, errors.New("ha: not enabled")
	}
	opts.Logger = obs.Logger(opts.Logger)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	this, partner, backups := cfg.peerRoles()
	if this.Name == "" || (partner.Name == "" && this.Role != RoleBackup) {
		return nil, errors.New("ha: the configuration names no partner")
	}
	var serverTLS, clientTLS *tls.Config
	if cfg.tlsOn() {
		var err error
		if serverTLS, clientTLS, err = cfg.tlsConfigs(); err != nil {
			return nil, fmt.Errorf("ha: %w", err)
		}
	}
	now := opts.Now()
	s := &Service{
		cfg: cfg, this: this, partner: partner, log: opts.Logger, now: opts.Now,
		serverTLS: serverTLS, started: now, kick: make(chan struct{}, 1), step: make(chan struct{}, 1),
		state: Waiting, comm: newComm(now),
	}
	if !s.isBackup() {
		s.client = newPeerClient(partner, clientTLS)
	}
	for _, b := range backups {
		s.backups = append(s.backups, newBackupSender(b, clientTLS))
	}
	return s, nil
}

// isBackup is whether this server is a backup server: it stays in the
// backup state, serves no clients, sends no heartbeats and takes the
// active servers' lease updates (ha_service.cc, waitingStateHandler and
// backupStateHandler).
func (s *Service) isBackup() bool { return s.this.Role == RoleBackup }

// Bind opens the listener the partner's commands arrive on (the host and
// port of this server's own URL) and takes the local lease database.
func (s *Service) Bind(db LeaseDB) error {
	u, err := url.Parse(s.this.URL)
	if err != nil {
		return fmt.Errorf("ha: %w", err)
	}
	ln, err := net.Listen("tcp", u.Host)
	if err != nil {
		return fmt.Errorf("ha: listen for the partner on %s: %w", u.Host, err)
	}
	if s.serverTLS != nil {
		ln = tls.NewListener(ln, s.serverTLS)
	}
	s.mu.Lock()
	s.db, s.ln = db, ln
	s.mu.Unlock()
	return nil
}

// Addr is the listener's address (after Bind).
func (s *Service) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Run serves the partner's commands and runs the heartbeat and the state
// machine until ctx ends. Bind first.
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return errors.New("ha: Run before Bind")
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: requestTimeout, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var senders sync.WaitGroup
	for _, b := range s.backups {
		senders.Go(func() { b.run(ctx, s.log) })
	}
	s.loop(ctx)
	senders.Wait()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if s.client != nil {
		s.client.close()
	}
	if err != nil {
		return fmt.Errorf("ha: %w", err)
	}
	return nil
}

// loop sends a heartbeat every heartbeat_delay (none once terminated, and
// none from a backup server: Kea schedules no heartbeat for one,
// ha_service.cc, waitingStateHandler) and runs the state machine after
// each, and whenever a command asks; a failed lease update runs the state
// machine alone.
func (s *Service) loop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.step:
			s.runModel(ctx)
			continue
		case <-t.C:
		case <-s.kick:
		}
		if s.State() != Terminated && !s.isBackup() {
			s.heartbeat(ctx)
		}
		s.runModel(ctx)
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(s.cfg.HeartbeatDelay)
	}
}

// State is the service's current state.
func (s *Service) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// primaryName is the name of the pair's primary, whose scope a
// hot-standby pair serves.
func (s *Service) primaryName() string {
	if s.this.Role == RolePrimary {
		return s.this.Name
	}
	return s.partner.Name
}

// scopesLocked is QueryFilter's served scopes: the primary serves its
// scope in every serving state, the standby only in partner-down with
// auto-failover.
func (s *Service) scopesLocked() []string {
	if s.servesLocked() {
		return []string{s.primaryName()}
	}
	return []string{}
}

// servesLocked is whether this server serves the primary's scope now.
func (s *Service) servesLocked() bool {
	return s.state == PartnerDown && s.this.autoFailover() ||
		serviceEnabled(s.state) && s.this.Role == RolePrimary
}

// serviceOnLocked is whether DHCP is on: the state allows it and the
// partner has not disabled it.
func (s *Service) serviceOnLocked(now time.Time) bool {
	if s.disabled && !s.disabledUntil.IsZero() && now.After(s.disabledUntil) {
		s.disabled = false
	}
	return serviceEnabled(s.state) && !s.disabled
}

// Admit tells the DHCP server whether to answer a client now; secs is the
// client's secs field, client its chaddr and client id. A client left to
// the partner while the partner is silent is counted towards
// max_unacked_clients (HAService::inScope); client is asked only then.
func (s *Service) Admit(secs uint16, client func() string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if !s.serviceOnLocked(now) {
		return false
	}
	if s.servesLocked() {
		return true
	}
	if s.comm.interrupted(now, s.cfg.MaxResponseDelay) {
		s.comm.analyze(secs, client(), s.cfg.MaxAckDelay)
	}
	return false
}

// LeasesCommitted is called once ls are durable locally and before the ACK
// leaves: the partner must acknowledge each lease (lease4-update, or
// lease4-del for a released one) or the ACK is withheld. In partner-down
// nothing is sent to the partner and the updates are counted as unsent.
// Each backup server is sent every update, in every state, without the
// ACK waiting for it.
func (s *Service) LeasesCommitted(ctx context.Context, ls []leases.Lease) error {
	s.mu.Lock()
	st, db := s.state, s.db
	if st == PartnerDown {
		s.unsent += int64(len(ls))
	}
	s.mu.Unlock()
	if !serviceEnabled(st) || db == nil {
		return nil
	}
	cmds := make([]Command, 0, len(ls))
	for _, l := range ls {
		cmd, err := leaseUpdate(l, db.SubnetID(l.Addr))
		if err != nil {
			return err
		}
		cmds = append(cmds, cmd)
		for _, b := range s.backups {
			b.enqueue(cmd)
		}
	}
	if st == PartnerDown {
		return nil
	}
	for i, cmd := range cmds {
		l := ls[i]
		if _, err := s.client.do(ctx, cmd); err != nil {
			// As Kea does after its lease updates (ha_service.cc,
			// asyncSendLeaseUpdate, Kea-2.2.0 lines 1407-1437): the
			// partner is unavailable and the state machine runs, so a
			// primary whose partner has been silent past
			// max_response_delay goes partner-down now, not at the next
			// heartbeat.
			s.mu.Lock()
			s.comm.partner = Unavailable
			s.mu.Unlock()
			select {
			case s.step <- struct{}{}:
			default:
			}
			return fmt.Errorf("ha: partner %s did not take the lease of %v: %w", s.partner.Name, l.Addr, err)
		}
	}
	s.mu.Lock()
	s.comm.poke(s.now())
	s.mu.Unlock()
	return nil
}

// leaseUpdate is the command that tells a peer about l: lease4-update, or
// lease4-del for a released lease (CommandCreator::createLease4Update,
// createLease4Delete).
func leaseUpdate(l leases.Lease, subnetID int64) (Command, error) {
	name := "lease4-update"
	kl := toLease4(l, subnetID, true)
	if l.State == leases.Released {
		name, kl.State = "lease4-del", keaStateDefault
	} else {
		kl.ForceCreate = true
	}
	return newCommand(name, kl)
}

// heartbeat sends ha-heartbeat and records the partner's answer
// (HAService::asyncSendHeartbeat).
func (s *Service) heartbeat(ctx context.Context) {
	var hb heartbeat
	cmd, _ := newCommand("ha-heartbeat", nil)
	a, err := s.client.do(ctx, cmd)
	var st State
	if err == nil {
		err = json.Unmarshal(a.Arguments, &hb)
	}
	if err == nil {
		st, err = parseState(hb.State)
	}
	var partnerTime time.Time
	if err == nil {
		partnerTime, err = http.ParseTime(hb.DateTime)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	notified := s.syncNotified
	s.syncNotified = false
	if err != nil {
		if s.comm.partner != Unavailable {
			s.log.Warn("ha: heartbeat to the partner failed", "partner", s.partner.Name, "err", err)
		}
		s.comm.partner = Unavailable
		if notified {
			// The partner synchronised from us but we cannot reach it:
			// serve on in partner-down.
			s.disabled = false
		}
		return
	}
	now := s.now()
	s.comm.partner, s.comm.scopes, s.comm.unsent = st, hb.Scopes, hb.UnsentUpdateCount
	s.comm.skew = now.Sub(partnerTime)
	s.comm.poke(now)
}

// runModel steps the state machine until it settles; the syncing state
// synchronises the leases from the partner.
func (s *Service) runModel(ctx context.Context) {
	for range maxSteps {
		s.mu.Lock()
		now := s.now()
		v := view{
			self: s.state, partner: s.comm.partner, primary: s.this.Role == RolePrimary, backup: s.isBackup(),
			interrupted: s.comm.interrupted(now, s.cfg.MaxResponseDelay),
			failure:     s.comm.failure(s.cfg.MaxUnackedClients),
			disabled:    serviceEnabled(s.state) && !s.serviceOnLocked(now),
			skew:        s.comm.everTouched && (s.comm.skew > skewTerminate || s.comm.skew < -skewTerminate),
		}
		if s.state == PartnerDown && s.comm.partner == Ready {
			v.partnerUnsent = s.comm.newPartnerUnsent()
		}
		n := next(v)
		s.mu.Unlock()
		if n == Syncing && v.self == Syncing {
			if v.partner == Unavailable {
				return
			}
			if err := s.synchronize(ctx); err != nil {
				s.log.Error("ha: lease synchronisation failed", "partner", s.partner.Name, "err", err)
				return
			}
			n = Ready
		}
		if n == v.self {
			return
		}
		s.transition(n)
	}
}

// transition enters state n; a state that serves clears a dhcp-disable
// from the partner (adjustNetworkState).
func (s *Service) transition(n State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n == s.state {
		return
	}
	s.log.Info("ha: state change", "from", string(s.state), "to", string(n), "partner", s.partner.Name, "partner_state", string(s.comm.partner))
	if serviceEnabled(n) {
		s.disabled = false
	}
	if n == HotStandby {
		s.unsent = 0
	}
	s.state = n
}

// reset is ha-reset: back to waiting, and the state machine runs.
func (s *Service) reset() {
	s.transition(Waiting)
	select {
	case s.kick <- struct{}{}:
	default:
	}
}
