package ha

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// commands are the commands this server answers, as Kea's HA hook lists
// them for DHCPv4 (command_creator.cc, ha_commands4_), less lease4-get-all
// and ha-maintenance-notify.
var commands = []string{
	"list-commands", "status-get", "dhcp-disable", "dhcp-enable", "ha-reset", "ha-heartbeat",
	"lease4-update", "lease4-del", "lease4-get-page", "ha-sync-complete-notify",
}

// Handler answers the partner's commands: a JSON command posted to any
// path, answered with a list of one answer, as Kea's control agent does.
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

func (s *Service) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "commands are posted", http.StatusMethodNotAllowed)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="phoneprov-ha"`)
		writeAnswer(w, http.StatusUnauthorized, answer(ResultError, "Unauthorized", nil))
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeAnswer(w, http.StatusBadRequest, answer(ResultError, "reading the command: "+err.Error(), nil))
		return
	}
	var cmd Command
	if err := json.Unmarshal(raw, &cmd); err != nil || cmd.Command == "" {
		writeAnswer(w, http.StatusBadRequest, answer(ResultError, fmt.Sprintf("not a command: %v", err), nil))
		return
	}
	writeAnswer(w, http.StatusOK, s.Execute(r.Context(), cmd))
}

// authorized checks the basic authentication the partner must send: the
// credentials of this server's own peer entry, when it has some.
func (s *Service) authorized(r *http.Request) bool {
	if s.this.BasicAuthUser == "" {
		return true
	}
	u, p, ok := r.BasicAuth()
	return ok && subtle.ConstantTimeCompare([]byte(u), []byte(s.this.BasicAuthUser)) == 1 &&
		subtle.ConstantTimeCompare([]byte(p), []byte(s.this.BasicAuthPassword)) == 1
}

// writeAnswer sends a as a list of one with its Content-Length: Kea's
// HTTP client reads a body only when the length is given and takes a
// chunked answer as one without a body ("no body found in the response":
// src/lib/http/response_parser.cc, Kea-2.2.0, lines 286-310).
func writeAnswer(w http.ResponseWriter, code int, a Answer) {
	body, err := json.Marshal([]Answer{a})
	if err != nil {
		body, code = []byte(`[{"result":1,"text":"encoding the answer failed"}]`), http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// Execute runs one command and returns its answer; a bad command gets an
// error answer, never a panic.
func (s *Service) Execute(ctx context.Context, cmd Command) Answer {
	if len(cmd.Service) > 0 && (len(cmd.Service) != 1 || cmd.Service[0] != "dhcp4") {
		return answer(ResultError, fmt.Sprintf("service %v is not served here: only dhcp4", cmd.Service), nil)
	}
	switch cmd.Command {
	case "list-commands":
		return answer(ResultSuccess, fmt.Sprintf("%d commands", len(commands)), commands)
	case "ha-heartbeat":
		return answer(ResultSuccess, "HA peer status returned.", s.heartbeatArgs())
	case "status-get":
		return answer(ResultSuccess, "", s.statusArgs())
	case "ha-reset":
		if s.State() == Waiting {
			return answer(ResultSuccess, "HA state machine already in WAITING state.", nil)
		}
		s.reset()
		return answer(ResultSuccess, "HA state machine reset.", nil)
	case "dhcp-disable", "dhcp-enable", "ha-sync-complete-notify":
		return s.networkCommand(cmd)
	case "lease4-update", "lease4-del", "lease4-get-page":
		return s.leaseCommand(ctx, cmd)
	}
	return answer(ResultUnsupported, fmt.Sprintf("'%s' command not supported.", cmd.Command), nil)
}

func (s *Service) heartbeatArgs() heartbeat {
	s.mu.Lock()
	defer s.mu.Unlock()
	return heartbeat{
		State: string(s.state), DateTime: s.now().UTC().Format(http.TimeFormat),
		Scopes: s.scopesLocked(), UnsentUpdateCount: s.unsent,
	}
}

// statusArgs is status-get's answer with its high-availability part
// (HAService::processStatusGet, CommunicationState::getReport).
func (s *Service) statusArgs() map[string]any {
	r := s.Report()
	local := map[string]any{"role": r.Role, "scopes": r.Scopes, "state": string(r.State), "server-name": r.Server}
	servers := map[string]any{"local": local}
	// A backup server reports no remote part: it has no partner
	// (HAService::processStatusGet).
	if !s.isBackup() {
		servers["remote"] = map[string]any{
			"role": r.PartnerRole, "age": int64(r.Age / time.Second), "in-touch": r.InTouch, "last-state": string(r.PartnerState),
			"communication-interrupted": r.CommunicationInterrupted, "unacked-clients": r.UnackedClients, "server-name": r.Partner,
		}
	}
	return map[string]any{
		"pid": os.Getpid(), "uptime": int64(s.now().Sub(s.started) / time.Second), "reload": 0,
		"high-availability": []any{map[string]any{"ha-mode": s.cfg.Mode, "ha-servers": servers}},
	}
}

// networkCommand is dhcp-disable, dhcp-enable and ha-sync-complete-notify.
func (s *Service) networkCommand(cmd Command) Answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch cmd.Command {
	case "dhcp-disable":
		var args dhcpDisable
		if len(cmd.Arguments) > 0 {
			if err := json.Unmarshal(cmd.Arguments, &args); err != nil || args.MaxPeriod < 0 {
				return answer(ResultError, fmt.Sprintf("dhcp-disable: bad arguments: %s", cmd.Arguments), nil)
			}
		}
		s.disabled, s.disabledUntil = true, time.Time{}
		if args.MaxPeriod > 0 {
			s.disabledUntil = s.now().Add(time.Duration(args.MaxPeriod) * time.Second)
		}
		return answer(ResultSuccess, "DHCPv4 service disabled", nil)
	case "dhcp-enable":
		s.disabled = false
		return answer(ResultSuccess, "DHCP service successfully enabled", nil)
	}
	if s.state == PartnerDown {
		s.syncNotified = true
	} else {
		s.disabled = false
	}
	return answer(ResultSuccess, "Server successfully notified about the synchronization completion.", nil)
}

// leaseCommand is lease4-update, lease4-del and lease4-get-page.
func (s *Service) leaseCommand(ctx context.Context, cmd Command) Answer {
	s.mu.Lock()
	db := s.db
	s.mu.Unlock()
	if db == nil {
		return answer(ResultError, "the lease database is not open yet", nil)
	}
	if cmd.Command == "lease4-get-page" {
		return s.getPage(db, cmd.Arguments)
	}
	var kl Lease4
	if err := json.Unmarshal(cmd.Arguments, &kl); err != nil {
		return answer(ResultError, fmt.Sprintf("%s: arguments are not a lease: %v", cmd.Command, err), nil)
	}
	now := s.now()
	if cmd.Command == "lease4-del" {
		return deleteLease(ctx, db, kl, now)
	}
	l, err := kl.lease(now)
	if err != nil {
		return answer(ResultError, "lease4-update: "+err.Error(), nil)
	}
	if err := db.ApplyLeases(ctx, []leases.Lease{l}); err != nil {
		return answer(ResultError, "lease4-update: "+err.Error(), nil)
	}
	return answer(ResultSuccess, "IPv4 lease updated.", nil)
}

// deleteLease ends the lease of the given address: it is kept as released
// now, so the address returns to the pool and its last client is
// remembered (Kea removes the row).
func deleteLease(ctx context.Context, db LeaseDB, kl Lease4, now time.Time) Answer {
	addr, err := netip.ParseAddr(kl.IPAddress)
	if err != nil || !addr.Is4() {
		return answer(ResultError, fmt.Sprintf("lease4-del: ip-address %q is not an IPv4 address", kl.IPAddress), nil)
	}
	ls := db.Leases()
	i, found := slices.BinarySearchFunc(ls, addr, func(l leases.Lease, a netip.Addr) int { return l.Addr.Compare(a) })
	if !found || ls[i].State == leases.Released {
		return answer(ResultEmpty, "IPv4 lease not found.", nil)
	}
	l := ls[i]
	l.State, l.Expiry = leases.Released, now
	if err := db.ApplyLeases(ctx, []leases.Lease{l}); err != nil {
		return answer(ResultError, "lease4-del: "+err.Error(), nil)
	}
	return answer(ResultSuccess, "IPv4 lease deleted.", nil)
}

// getPage answers lease4-get-page: the leases after "from" ("start" for
// the first page), at most "limit", in address order; result 3 when none.
// Released records are not leases to Kea and are left out.
func (s *Service) getPage(db LeaseDB, raw json.RawMessage) Answer {
	var args getPage
	if err := json.Unmarshal(raw, &args); err != nil || args.From == "" {
		return answer(ResultError, "lease4-get-page: 'from' parameter not specified", nil)
	}
	if args.Limit <= 0 {
		return answer(ResultError, "lease4-get-page: page size must be greater than 0", nil)
	}
	from := netip.IPv4Unspecified()
	if args.From != "start" {
		a, err := netip.ParseAddr(args.From)
		if err != nil || !a.Is4() {
			return answer(ResultError, "lease4-get-page: 'from' parameter value is neither 'start' keyword nor a valid IPv4 address", nil)
		}
		from = a
	}
	out := page{Leases: []Lease4{}}
	for _, l := range db.Leases() {
		if int64(len(out.Leases)) >= args.Limit {
			break
		}
		if l.Addr.Compare(from) <= 0 || l.State == leases.Released {
			continue
		}
		out.Leases = append(out.Leases, toLease4(l, db.SubnetID(l.Addr), false))
	}
	out.Count = int64(len(out.Leases))
	if out.Count == 0 {
		return answer(ResultEmpty, "0 IPv4 lease(s) found.", out)
	}
	return answer(ResultSuccess, fmt.Sprintf("%d IPv4 lease(s) found.", out.Count), out)
}
