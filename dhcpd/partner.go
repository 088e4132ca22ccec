package dhcpd

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/phoneprov/phoneprov/dhcpd/leases"
)

// ApplyLeases takes leases from the HA partner: they are stored durably,
// then they replace what this server holds for their addresses. A lease
// outside every configured subnet is refused.
func (s *Server) ApplyLeases(ctx context.Context, ls []leases.Lease) error {
	if len(ls) == 0 {
		return nil
	}
	own := make([]leases.Lease, len(ls))
	var errs []error
	for i, l := range ls {
		sn := s.pol.subnetOf(l.Addr)
		if sn == nil {
			errs = append(errs, fmt.Errorf("dhcp: lease of %v: no configured subnet holds it", l.Addr))
			continue
		}
		l = l.Clone()
		l.Subnet = sn.prefix
		own[i] = l
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, s.h.timeout)
	defer cancel()
	if err := s.opts.Store.Put(wctx, own...); err != nil {
		return fmt.Errorf("dhcp: store the partner's leases: %w", err)
	}
	s.al.Load(own, s.h.now())
	return nil
}

// SubnetID is Kea's subnet-id for addr: 1 + the index of the
// [[dhcp.subnet]] holding it, 0 when none does. A Kea partner numbers its
// subnets the same way.
func (s *Server) SubnetID(addr netip.Addr) int64 {
	if sn := s.pol.subnetOf(addr); sn != nil {
		return int64(sn.index) + 1
	}
	return 0
}
