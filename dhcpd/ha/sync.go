package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// maxPages bounds one synchronisation: 2^20 pages of at least one lease.
const maxPages = 1 << 20

// synchronize copies the partner's leases here as Kea's syncing state
// does (HAService::synchronize): dhcp-disable to the partner for
// sync_timeout, lease4-get-page from "start" until a short page, each
// lease kept when it is new here or newer than ours, then
// ha-sync-complete-notify (dhcp-enable if the partner does not know it).
func (s *Service) synchronize(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SyncTimeout)
	defer cancel()
	period := int64(s.cfg.SyncTimeout / time.Second)
	cmd, err := newCommand("dhcp-disable", dhcpDisable{Origin: "ha-partner", MaxPeriod: period})
	if err != nil {
		return err
	}
	if _, err := s.client.do(ctx, cmd); err != nil {
		return err
	}
	pulled, n, err := s.pullLeases(ctx)
	if err != nil {
		enable, _ := newCommand("dhcp-enable", dhcpDisable{Origin: "ha-partner"})
		_, eerr := s.client.do(context.WithoutCancel(ctx), enable)
		return errors.Join(err, eerr)
	}
	notify, _ := newCommand("ha-sync-complete-notify", nil)
	if _, err := s.client.do(ctx, notify); errors.Is(err, errUnsupported) {
		enable, _ := newCommand("dhcp-enable", dhcpDisable{Origin: "ha-partner"})
		_, err = s.client.do(ctx, enable)
		if err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	s.mu.Lock()
	s.lastSync, s.lastSyncPulled, s.lastSyncApplied = s.now(), pulled, n
	s.mu.Unlock()
	s.log.Info("ha: leases synchronised from the partner", "partner", s.partner.Name, "pulled", pulled, "leases", n)
	return nil
}

// pullLeases fetches every page and applies what is newer; it returns the
// number of leases the partner sent and of those applied.
func (s *Service) pullLeases(ctx context.Context) (pulled, applied int, err error) {
	s.mu.Lock()
	db := s.db
	s.mu.Unlock()
	local := map[netip.Addr]time.Time{}
	for _, l := range db.Leases() {
		local[l.Addr] = l.Start
	}
	from := "start"
	for range maxPages {
		cmd, err := newCommand("lease4-get-page", getPage{From: from, Limit: int64(s.cfg.SyncPageLimit)})
		if err != nil {
			return pulled, applied, err
		}
		a, err := s.client.do(ctx, cmd)
		if err != nil {
			return pulled, applied, err
		}
		if a.Result == ResultEmpty {
			return pulled, applied, nil
		}
		var p page
		if err := json.Unmarshal(a.Arguments, &p); err != nil {
			return pulled, applied, fmt.Errorf("ha: lease4-get-page answer: %w", err)
		}
		pulled += len(p.Leases)
		batch := make([]leases.Lease, 0, len(p.Leases))
		now := s.now()
		for _, kl := range p.Leases {
			l, err := kl.lease(now)
			if err != nil {
				s.log.Warn("ha: partner's lease skipped", "lease", kl.IPAddress, "err", err)
				continue
			}
			if start, ok := local[l.Addr]; ok && !l.Start.After(start) {
				continue
			}
			batch = append(batch, l)
		}
		if err := db.ApplyLeases(ctx, batch); err != nil {
			return pulled, applied, err
		}
		applied += len(batch)
		if len(p.Leases) < s.cfg.SyncPageLimit {
			return pulled, applied, nil
		}
		from = p.Leases[len(p.Leases)-1].IPAddress
	}
	return pulled, applied, errors.New("ha: the partner sent more pages than any lease table holds")
}
