// Package leases keeps the DHCP server's leases on disk.
//
// The DHCP server holds every lease in memory (its indexes and the address
// allocator); a Store is the durable copy it reloads at start. A lease must be
// durable before the ACK that hands it out leaves the box, so Store.Put returns
// only once the lease is on stable storage.
//
// The implementation is Journal, an append-only file of durable frames
// (internal/durable) rewritten now and then, as ISC dhcpd and Kea's memfile
// keep leases, that group-commits concurrent calls into one write and one
// fdatasync. Tests of code that needs a Store use leasestest.Memory.
package leases

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// State is where a lease is in its life.
type State uint8

// The lease states. The zero value is not a valid state, so a Lease built
// without one is refused by Put instead of silently becoming Active.
const (
	// Active: the address is bound to the client until Expiry.
	Active State = iota + 1
	// Released: the client gave the address back (DHCPRELEASE).
	Released
	// Declined: a client reported the address in use by someone else
	// (DHCPDECLINE); it is kept out of the pool on probation until Expiry.
	Declined
	// Expired: the lease ran out; the address may be reused once the server
	// is sure the old holder is gone.
	Expired
)

var stateNames = [...]string{
	Active:   "active",
	Released: "released",
	Declined: "declined",
	Expired:  "expired",
}

// String returns the state's lower-case name, or "state(N)" for an unknown value.
func (s State) String() string {
	if s.Valid() {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Valid reports whether s is one of the defined states.
func (s State) Valid() bool {
	return s >= Active && s <= Expired
}

// Lease is one address binding as the server knows it.
type Lease struct {
	// Addr is the leased IPv4 address; it is the lease's key.
	Addr netip.Addr
	// HWAddr is the client's hardware address (chaddr).
	HWAddr net.HardwareAddr
	// ClientID is option 61; empty if the client sent none.
	ClientID []byte
	// Subnet is the configured subnet the address belongs to.
	Subnet netip.Prefix
	// Hostname is option 12 as the client sent it.
	Hostname string
	// VendorClass is option 60 as the client sent it, without trailing NULs.
	VendorClass string
	// Class is the name of the phoneprov phone class that matched.
	Class string
	// Start is when the lease was granted or last renewed.
	Start time.Time
	// Expiry is when the lease ends (or probation ends, for Declined).
	Expiry time.Time
	// State is the lease's life-cycle state.
	State State
}

// Clone returns a deep copy of l, so the copy shares no slices with l.
func (l Lease) Clone() Lease {
	l.HWAddr = cloneBytes(l.HWAddr)
	l.ClientID = cloneBytes(l.ClientID)
	return l
}

func cloneBytes[S ~[]byte](b S) S {
	if b == nil {
		return nil
	}
	return append(S{}, b...)
}

// Validate reports why l cannot be stored, or nil. Only what the store needs
// is checked: an IPv4 address and a defined state.
func (l Lease) Validate() error {
	if !l.Addr.Is4() {
		return fmt.Errorf("lease address %v is not an IPv4 address", l.Addr)
	}
	if !l.State.Valid() {
		return fmt.Errorf("lease %v has invalid state %v", l.Addr, l.State)
	}
	return nil
}

// Store is durable lease storage. Implementations are safe for concurrent use.
type Store interface {
	// Load returns every stored lease, ordered by address. It is meant for
	// start-up. If some records cannot be decoded, Load still returns all the
	// good leases together with an error that wraps ErrCorrupt; the bad
	// records stay in the store untouched until a Put or Delete for their
	// address replaces them.
	Load(ctx context.Context) ([]Lease, error)
	// Put stores the leases, each keyed by its address (a lease for an address
	// replaces the one stored before). When Put returns nil every lease is on
	// stable storage. Either all the given leases are stored or none.
	Put(ctx context.Context, ls ...Lease) error
	// Delete removes the leases for these addresses; unknown addresses are ignored.
	// Like Put it is durable when it returns.
	Delete(ctx context.Context, addrs ...netip.Addr) error
	// Close releases the store. Calls after Close fail with ErrClosed.
	Close() error
}

// Errors a Store may wrap; test them with errors.Is.
var (
	// ErrClosed is returned by calls on a closed store.
	ErrClosed = errors.New("lease store is closed")
	// ErrReadOnly is returned by Put and Delete on a store opened read-only.
	ErrReadOnly = errors.New("lease store is read-only")
	// ErrCorrupt marks records that could not be decoded.
	ErrCorrupt = errors.New("corrupt lease record")
	// ErrNewerSchema is returned for a database written by a newer phoneprov.
	ErrNewerSchema = errors.New("lease database has a newer schema")
)

func validateAll(ls []Lease) error {
	for i := range ls {
		if err := ls[i].Validate(); err != nil {
			return err
		}
	}
	return nil
}

func validateAddrs(addrs []netip.Addr) error {
	for _, a := range addrs {
		if !a.Is4() {
			return fmt.Errorf("lease address %v is not an IPv4 address", a)
		}
	}
	return nil
}
