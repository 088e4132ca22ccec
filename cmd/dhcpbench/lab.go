package main

import (
	"fmt"

	"github.com/phoneprov/phoneprov/deploy/netlab"
)

// lab is the benchmark's network: a server namespace and a client
// namespace joined by one veth pair. Every server runs in the same server
// namespace, one at a time; perfdhcp and the probe run in the client one.
type lab struct {
	nl                 *netlab.Lab
	server, client     *netlab.Namespace
	serverIf, clientIf string
}

// buildLab creates the namespaces, the link and the plan's two addresses.
// On error, whatever was made is removed.
func buildLab(p plan) (_ *lab, err error) {
	if err := netlab.Available(); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	l := &lab{nl: netlab.New()}
	defer func() {
		if err != nil {
			_ = l.close()
		}
	}()
	if l.server, err = l.nl.Namespace("dhcpsrv"); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if l.client, err = l.nl.Namespace("dhcpcli"); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if l.serverIf, l.clientIf, err = l.nl.Veth(l.server, l.client); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if err = l.server.AddAddr(l.serverIf, p.ServerAddr); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if err = l.client.AddAddr(l.clientIf, p.ClientAddr); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	return l, nil
}

// close removes the namespaces, and with them the link.
func (l *lab) close() error {
	if err := l.nl.Close(); err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	return nil
}
