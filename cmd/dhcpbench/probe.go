package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/phoneprov/phoneprov/deploy/netlab"
)

// probeResult is what one relayed DORA of the probe client received.
type probeResult struct {
	Addr      netip.Addr    // the address ACKed
	Offer242  string        // option 242 in the OFFER
	Ack242    string        // option 242 in the ACK
	LeaseTime time.Duration // option 51 in the ACK
	Router    string        // option 3 in the ACK
}

// optAvaya is the site-specific option Avaya phones read their settings from.
const optAvaya = dhcpv4.GenericOptionCode(242)

// probeDORA runs one DISCOVER-OFFER-REQUEST-ACK as a relay agent would send
// it (from port 67 of the client namespace's address, giaddr set), for a
// phone with vendor class plan.VendorClass asking for option 242. Each
// message is retried every 300 ms until ctx ends. The socket is closed
// before it returns, so perfdhcp can bind the same port afterwards.
func probeDORA(ctx context.Context, ns *netlab.Namespace, p plan, mac net.HardwareAddr) (probeResult, error) {
	relay := p.ClientAddr.Addr()
	var conn *net.UDPConn
	err := ns.Do(func() error {
		var lerr error
		conn, lerr = net.ListenUDP("udp4", &net.UDPAddr{IP: relay.AsSlice(), Port: 67})
		return lerr
	})
	if err != nil {
		return probeResult{}, fmt.Errorf("probe: listen: %w", err)
	}
	defer conn.Close()
	server := &net.UDPAddr{IP: p.ServerAddr.Addr().AsSlice(), Port: 67}
	common := []dhcpv4.Modifier{
		dhcpv4.WithRelay(relay.AsSlice()),
		dhcpv4.WithOption(dhcpv4.OptClassIdentifier(p.VendorClass)),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionRouter, dhcpv4.OptionIPAddressLeaseTime, optAvaya),
	}
	discover, err := dhcpv4.NewDiscovery(mac, common...)
	if err != nil {
		return probeResult{}, fmt.Errorf("probe: %w", err)
	}
	offer, err := exchange(ctx, conn, server, discover, dhcpv4.MessageTypeOffer)
	if err != nil {
		return probeResult{}, fmt.Errorf("probe: DISCOVER: %w", err)
	}
	request, err := dhcpv4.New(append([]dhcpv4.Modifier{
		dhcpv4.WithHwAddr(mac),
		dhcpv4.WithTransactionID(offer.TransactionID),
		dhcpv4.WithMessageType(dhcpv4.MessageTypeRequest),
		dhcpv4.WithOption(dhcpv4.OptRequestedIPAddress(offer.YourIPAddr)),
		dhcpv4.WithOptionCopied(offer, dhcpv4.OptionServerIdentifier),
	}, common...)...)
	if err != nil {
		return probeResult{}, fmt.Errorf("probe: %w", err)
	}
	ack, err := exchange(ctx, conn, server, request, dhcpv4.MessageTypeAck)
	if err != nil {
		return probeResult{}, fmt.Errorf("probe: REQUEST: %w", err)
	}
	addr, _ := netip.AddrFromSlice(ack.YourIPAddr.To4())
	res := probeResult{
		Addr:      addr,
		Offer242:  string(offer.Options.Get(optAvaya)),
		Ack242:    string(ack.Options.Get(optAvaya)),
		LeaseTime: ack.IPAddressLeaseTime(0),
	}
	if r := ack.Router(); len(r) > 0 {
		res.Router = r[0].String()
	}
	return res, nil
}

// exchange sends msg until a reply with its transaction id and the wanted
// type arrives (a NAK is an error), or ctx ends.
func exchange(ctx context.Context, conn *net.UDPConn, server *net.UDPAddr, msg *dhcpv4.DHCPv4, want dhcpv4.MessageType) (*dhcpv4.DHCPv4, error) {
	buf := make([]byte, 1500)
	for ctx.Err() == nil {
		if _, err := conn.WriteToUDP(msg.ToBytes(), server); err != nil {
			return nil, fmt.Errorf("send: %w", err)
		}
		deadline := time.Now().Add(300 * time.Millisecond)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		if err := conn.SetReadDeadline(deadline); err != nil {
			return nil, fmt.Errorf("receive: %w", err)
		}
		for {
			n, _, err := conn.ReadFromUDP(buf)
			var nerr net.Error
			if errors.As(err, &nerr) && nerr.Timeout() {
				break // resend
			}
			if err != nil {
				return nil, fmt.Errorf("receive: %w", err)
			}
			reply, err := dhcpv4.FromBytes(buf[:n])
			if err != nil || reply.TransactionID != msg.TransactionID {
				continue
			}
			switch reply.MessageType() {
			case want:
				return reply, nil
			case dhcpv4.MessageTypeNak:
				return nil, fmt.Errorf("NAK: %s", reply.Message())
			}
		}
	}
	return nil, fmt.Errorf("no %s: %w", want, ctx.Err())
}

// check compares what the probe received with the plan.
func (r probeResult) check(p plan) error {
	var errs []error
	want := p.option242()
	if r.Offer242 != want {
		errs = append(errs, fmt.Errorf("OFFER option 242 = %q, want %q", r.Offer242, want))
	}
	if r.Ack242 != want {
		errs = append(errs, fmt.Errorf("ACK option 242 = %q, want %q", r.Ack242, want))
	}
	if r.LeaseTime != p.LeaseTime {
		errs = append(errs, fmt.Errorf("lease time %s, want %s", r.LeaseTime, p.LeaseTime))
	}
	if r.Router != p.ServerAddr.Addr().String() {
		errs = append(errs, fmt.Errorf("router %q, want %s", r.Router, p.ServerAddr.Addr()))
	}
	if a := r.Addr; !a.IsValid() || a.Less(p.PoolStart) || p.PoolEnd.Less(a) {
		errs = append(errs, fmt.Errorf("address %s is outside the pool", a))
	}
	return errors.Join(errs...)
}
