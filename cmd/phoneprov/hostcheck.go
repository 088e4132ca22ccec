package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/phoneprov/phoneprov/fileserve/tlsca"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
)

// checkHost checks what the configuration asks of this box and loading it
// cannot tell: that the operator's HTTPS certificate and key are there and
// belong together, and that every listen address is one of the box's (a
// wildcard or loopback address always is). `serve` would fail on either;
// `check` says so first.
func checkHost(cfg config.Config) error {
	var errs []error
	https := cfg.FileServe.HTTPS
	if https.Enabled && https.CertFile != "" {
		if _, err := tlsca.LoadOperator(https.CertFile, https.KeyFile, ""); err != nil {
			errs = append(errs, fmt.Errorf("fileserve.https.cert_file: %w", err))
		}
	}
	local, err := localAddrs()
	if err != nil {
		return fmt.Errorf("list this box's addresses: %w", err)
	}
	listen := func(key string, enabled bool, addrs ...string) {
		if !enabled {
			return
		}
		for i, a := range addrs {
			if err := onThisBox(a, local); err != nil {
				if len(addrs) > 1 {
					key = fmt.Sprintf("%s[%d]", key, i)
				}
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
			}
		}
	}
	fs := cfg.FileServe
	listen("fileserve.http.listen", fs.HTTP.Enabled, fs.HTTP.Listen...)
	listen("fileserve.https.listen", fs.HTTPS.Enabled, fs.HTTPS.Listen...)
	listen("fileserve.tftp.listen", fs.TFTP.Enabled, fs.TFTP.Listen...)
	listen("admin.listen", cfg.Admin.Listen != "", cfg.Admin.Listen)
	return errors.Join(errs...)
}

// localAddrs lists the addresses assigned to this box's interfaces.
func localAddrs() (map[netip.Addr]bool, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make(map[netip.Addr]bool, len(addrs))
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out[p.Addr().Unmap()] = true
		}
	}
	return out, nil
}

// onThisBox tells whether a listen address (host:port, validated at load)
// can be bound here.
func onThisBox(hostport string, local map[netip.Addr]bool) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || host == "" {
		return nil // "" is every address; a malformed one was reported at load
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	ip = ip.Unmap()
	if ip.IsUnspecified() || ip.IsLoopback() || local[ip] {
		return nil
	}
	return fmt.Errorf("%s is not an address of this box (no interface has %s); use one of its addresses, or %q for all of them",
		hostport, ip, ":"+port)
}
