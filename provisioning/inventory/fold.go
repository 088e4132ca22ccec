package inventory

import (
	"context"
	"log/slog"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"
	"unique"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning/firmware"
)

// maxAddrs bounds the addresses kept per phone.
const maxAddrs = 4

// neighborMaxAge is how long one read of the neighbour table serves to
// identify clients before it is read again.
const neighborMaxAge = 2 * time.Second

// apply folds one fact in. It runs on the Run goroutine only.
func (inv *Inventory) apply(ctx context.Context, f fact) {
	switch {
	case f.lease.kind != 0:
		inv.metrics.leaseFacts.Inc()
		inv.applyLease(&f.lease)
	default:
		inv.metrics.accessFacts.Inc()
		inv.applyAccess(ctx, &f.access)
	}
}

func (inv *Inventory) applyLease(l *leaseFact) {
	mac := l.mac
	if !l.macOK || mac.IsZero() {
		return
	}
	t := l.time
	if t.IsZero() {
		t = inv.opts.Now()
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	p := inv.phones.thaw(mac)
	known := p != nil
	var before leaseFields
	if known {
		before = leaseFieldsOf(p)
	} else {
		if l.kind == dhcpd.Expired {
			return // nothing to learn about a phone we never saw
		}
		p = inv.newPhoneLocked(mac, t)
	}
	if l.kind != dhcpd.Expired {
		seen(p, t)
	}
	p.LeaseKind, p.LeaseTime = l.kind.String(), t
	setIf(&p.Class, l.class)
	setIf(&p.HostName, l.host)
	setIf(&p.VendorClass, l.vendorClass)
	if prl := l.requested(); len(prl) > 0 {
		setRequestList(p, prl)
	}
	if vendor, model := vendorFromClass(l.vendorClass); vendor != "" {
		setIf(&p.Vendor, vendor)
		setModel(p, model, ModelFromVendorClass)
	}
	if h, ok := DecodeAvayaHostName(l.host); ok && h.Matches(mac) {
		setIf(&p.Vendor, "Avaya")
	}
	if p.Vendor == "" && isAvayaOUI(mac.OUI()) {
		p.Vendor = "Avaya"
	}
	if l.addr.IsValid() {
		switch l.kind {
		case dhcpd.Acked:
			inv.bindLocked(p, l.addr.Unmap(), "dhcp", t)
		case dhcpd.Released, dhcpd.Declined, dhcpd.Expired:
			inv.unbindLocked(p, l.addr.Unmap())
		}
	}
	// Most facts of a known phone only move its times: a touch record,
	// a fraction of the whole one, is enough to write.
	if known && leaseFieldsOf(p) == before {
		inv.markLocked(mac, changeTouch)
	} else {
		inv.markLocked(mac, changeWhole)
	}
}

// leaseFields are the fields of a record that a lease fact may change
// besides the ones a touch record carries (the lease kind and time, the
// last sighting, the first address's time).
type leaseFields struct {
	class, host, vendorClass, requested, vendor, model, modelFrom string
	firstSeen                                                     time.Time
	addrs                                                         int
	firstAddr                                                     netip.Addr
	firstSource                                                   string
}

func leaseFieldsOf(p *Phone) leaseFields {
	f := leaseFields{class: p.Class, host: p.HostName, vendorClass: p.VendorClass, requested: p.ParamRequestList,
		vendor: p.Vendor, model: p.Model, modelFrom: p.ModelFrom, firstSeen: p.FirstSeen, addrs: len(p.Addrs)}
	if len(p.Addrs) > 0 {
		f.firstAddr, f.firstSource = p.Addrs[0].Addr, p.Addrs[0].Source
	}
	return f
}

// markLocked records that mac's record changed, as much as c says.
func (inv *Inventory) markLocked(mac MAC, c change) {
	if inv.dirty[mac] < c {
		inv.dirty[mac] = c
	}
}

// setRequestList records option 55 as p.ParamRequestList ("1,3,6,…"),
// formatted on the stack and compared first: when a phone sends the same
// list every time (expected, unconfirmed), nothing is allocated.
func setRequestList(p *Phone, prl []byte) {
	var buf [4 * 255]byte
	b := buf[:0]
	for i, c := range prl {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, uint64(c), 10)
	}
	if string(b) != p.ParamRequestList {
		p.ParamRequestList = unique.Make(string(b)).Value()
	}
}

func (inv *Inventory) applyAccess(ctx context.Context, ev *fileserve.AccessEvent) {
	addr := ev.Client.Addr().Unmap()
	agent := inv.agents.parse(ev.UserAgent)
	t := ev.Time
	if t.IsZero() {
		t = inv.opts.Now()
	}
	mac, source := agent.MAC, "user-agent"
	if mac.IsZero() {
		mac, source = inv.macOf(ctx, addr)
	}
	if mac.IsZero() {
		inv.unresolved.Add(1)
		if inv.log.Enabled(ctx, slog.LevelDebug) { // spare boxing the attributes
			inv.log.LogAttrs(ctx, slog.LevelDebug, "inventory: no MAC for a client", slog.Any("client", addr), slog.String("name", ev.Name))
		}
		return
	}
	file := inv.accessedFile(ev, t)

	inv.mu.Lock()
	defer inv.mu.Unlock()
	p := inv.phones.thaw(mac)
	if p == nil {
		p = inv.newPhoneLocked(mac, t)
	}
	seen(p, t)
	if addr.IsValid() && source != "" {
		inv.bindLocked(p, addr, source, t)
	}
	if agent.ua != "" {
		applyUserAgent(p, &agent)
	}
	p.Files = addFetch(p.Files, file.fetch, inv.cfg.FilesPerPhone)
	file.apply(p)
	inv.markLocked(mac, changeWhole)
}

// accessedFile is what the name of a requested file says: the fetch to
// record, and for firmware and upgrade scripts the phone's series, model
// class and the version it will run.
type accessedFile struct {
	fetch Fetch
	// fwClass and fwSeries are the model class and series of a firmware
	// image; fwVersion its version.
	fwClass, fwSeries, fwVersion string
	// script is the series of an upgrade script, when isUpgrade.
	script    firmware.SeriesInfo
	isUpgrade bool
	// backupClass is the model class of a backup file's name, or "".
	backupClass string
}

// addFetch appends f to files, keeping the last limit. The list grows by
// doubling up to limit and no further, so a phone's full history takes
// room for limit fetches, not for the next power of two (a third more at
// the default 20).
func addFetch(files []Fetch, f Fetch, limit int) []Fetch {
	if len(files) >= limit {
		n := copy(files, files[len(files)-limit+1:])
		return append(files[:n], f)
	}
	if len(files) == cap(files) {
		grown := make([]Fetch, len(files), min(max(2*len(files), 2), limit))
		copy(grown, files)
		files = grown
	}
	return append(files, f)
}

// accessedFile describes the file ev asked for, fetched at t.
func (inv *Inventory) accessedFile(ev *fileserve.AccessEvent, t time.Time) accessedFile {
	name := ev.Resolved
	if name == "" {
		name = strings.TrimLeft(strings.ReplaceAll(ev.Name, "\\", "/"), "/")
	}
	// The names repeat across the fleet (every phone fetches the same
	// scripts and firmware): interned, each is held once.
	f := accessedFile{fetch: Fetch{Time: t, Protocol: unique.Make(ev.Protocol).Value(), Name: unique.Make(name).Value(),
		Kind: KindOther, Status: ev.Status, Bytes: ev.Bytes, Size: ev.Size}}
	fwModel, fwVersion, isFirmware := inv.firmwareOf(name)
	switch {
	case inv.opts.IsScript(name):
		f.fetch.Kind = KindScript
	case isFirmware:
		f.fetch.Kind = KindFirmware
	}
	// What the file name says of the phone's series, for phones whose
	// User-Agent names no model (the 4600, 1600 and 96x1 H.323 send none).
	f.script, f.isUpgrade = upgradeScript(name)
	f.fwClass, f.fwVersion = fwModel, fwVersion
	if im, ok := firmware.Recognise(path.Base(name)); ok && isFirmware {
		f.fwSeries = string(im.Series)
		if f.fwClass == "" {
			f.fwClass = im.ModelClass()
		}
	}
	f.backupClass = backupClass(name)
	return f
}

// applyUserAgent records what a User-Agent says of the phone.
func applyUserAgent(p *Phone, agent *parsedAgent) {
	setIf(&p.UserAgent, agent.ua)
	setIf(&p.Vendor, agent.Vendor)
	setModel(p, agent.Model, ModelFromUserAgent)
	if agent.Firmware != "" {
		p.Firmware, p.FirmwareFrom = agent.firmware, "user-agent"
	}
}

// apply records on p what fetching the file says: its series and model
// from an upgrade script or backup name, its last script or firmware
// download, and the firmware it will run after a complete download.
func (f *accessedFile) apply(p *Phone) {
	fetch := f.fetch
	if f.isUpgrade && fetch.ok() {
		setIf(&p.Vendor, "Avaya")
		setIf(&p.Series, string(f.script.Series))
		setModel(p, f.script.ModelClass(), ModelFromUpgradeScript)
	}
	if f.backupClass != "" && fetch.ok() {
		setModel(p, f.backupClass, ModelFromBackup)
	}
	switch fetch.Kind {
	case KindScript:
		keepFetch(&p.LastScript, fetch)
	case KindFirmware:
		keepFetch(&p.LastFirmware, fetch)
		// A complete download (status 200 and, when the size is known,
		// every byte of it) is what the phone will run after its restart.
		// A transfer cut mid-body still shows status 200 over HTTP; it is
		// incomplete, not failed (the phone retries): no version credit.
		if fetch.complete() && fits(p.Model, f.fwClass) {
			keepFetch(&p.Upgraded, fetch)
			setModel(p, f.fwClass, ModelFromFirmware)
			if p.Series == "" {
				setIf(&p.Series, f.fwSeries)
			}
			if f.fwVersion != "" {
				p.Firmware, p.FirmwareFrom = unique.Make(firmware.Canonical(f.fwVersion)).Value(), "download"
			}
		}
	}
}

// keepFetch stores f in *dst, in the Fetch *dst already points to when
// there is one: the record's pointers are read and written under the
// inventory's lock only (readers get copies, see Phone.clone), so a phone
// that fetches again allocates nothing.
func keepFetch(dst **Fetch, f Fetch) {
	if *dst == nil {
		*dst = new(Fetch)
	}
	**dst = f
}

// macOf finds the MAC behind a client address: the phone that holds it by
// lease or earlier sighting, else the kernel's neighbour table (for phones
// with static addresses). source is how the address was learnt, empty when
// it is already bound.
func (inv *Inventory) macOf(ctx context.Context, addr netip.Addr) (MAC, string) {
	if !addr.IsValid() {
		return MAC{}, ""
	}
	inv.mu.RLock()
	mac, ok := inv.byAddr.get(addr)
	inv.mu.RUnlock()
	if ok {
		return mac, ""
	}
	if inv.opts.Neighbors == nil {
		return MAC{}, ""
	}
	if inv.neighbors == nil || time.Since(inv.neighborsRead) > neighborMaxAge {
		inv.readNeighbors(ctx)
	}
	if n, ok := inv.neighbors[addr]; ok {
		if m, ok := MACFrom(n.MAC); ok {
			return m, "neighbor"
		}
	}
	return MAC{}, ""
}

// readNeighbors refreshes the worker's copy of the neighbour table.
func (inv *Inventory) readNeighbors(ctx context.Context) {
	inv.neighborsRead = time.Now()
	ns, err := inv.opts.Neighbors(ctx)
	if err != nil {
		inv.metrics.neighborErrors.Inc()
		inv.log.Warn("inventory: cannot read the neighbour table", "err", err)
		return
	}
	inv.neighbors = make(map[netip.Addr]Neighbor, len(ns))
	for _, n := range ns {
		inv.neighbors[n.Addr.Unmap()] = n
	}
}

// scanNeighbors reads the neighbour table and refreshes the phones already
// known: their static addresses, and their last-seen time when the kernel
// confirmed them reachable. Unknown devices are not added: the table holds
// routers and computers too.
func (inv *Inventory) scanNeighbors(ctx context.Context) {
	inv.readNeighbors(ctx)
	now := inv.opts.Now()
	inv.mu.Lock()
	defer inv.mu.Unlock()
	var scratch Phone
	for addr, n := range inv.neighbors {
		mac, ok := MACFrom(n.MAC)
		if !ok {
			continue
		}
		// Looked at first, thawed only when it changes.
		p := inv.phones.peek(mac, &scratch)
		if p == nil {
			continue
		}
		reached := n.Reachable && now.After(p.LastSeen)
		owner, bound := inv.byAddr.get(addr)
		moved := !bound || owner != mac
		if !reached && !moved {
			continue
		}
		p = inv.phones.thaw(mac)
		if reached {
			seen(p, now)
		}
		if moved {
			inv.bindLocked(p, addr, "neighbor", now)
		}
		inv.markLocked(mac, changeWhole)
	}
	inv.metrics.neighborFacts.Inc()
}

func (inv *Inventory) newPhoneLocked(mac MAC, t time.Time) *Phone {
	var p *Phone
	if inv.phones.len() >= inv.cfg.MaxPhones {
		p = inv.evictOldestLocked()
	}
	if p == nil {
		p = &Phone{}
	}
	// An evicted record that was hot is reused, its lists' room with it:
	// nothing else holds it (List and Get hand out copies).
	*p = Phone{MAC: mac, FirstSeen: t, LastSeen: t, Addrs: p.Addrs[:0], Files: p.Files[:0]}
	inv.phones.add(p)
	inv.ages.add(p)
	return p
}

// evictOldestLocked forgets the phone seen longest ago, making room for a
// new one, and returns its record for reuse when it was hot.
func (inv *Inventory) evictOldestLocked() *Phone {
	var scratch Phone
	p := inv.ages.oldest(&inv.phones, &scratch)
	if p == nil {
		return nil
	}
	lastSeen := p.LastSeen
	hot := inv.removeLocked(p)
	inv.metrics.evicted.Inc()
	if now := time.Now(); now.Sub(inv.lastEvictLog) > time.Minute {
		inv.lastEvictLog = now
		inv.log.Info("inventory full; forgetting the phones seen longest ago to learn new ones",
			"max_phones", inv.cfg.MaxPhones, "forgotten_last_seen", lastSeen)
	}
	return hot
}

// removeLocked forgets p and returns its record when it was hot.
func (inv *Inventory) removeLocked(p *Phone) *Phone {
	for _, a := range p.Addrs {
		inv.byAddr.release(a.Addr, p.MAC)
	}
	mac := p.MAC
	hot := inv.phones.remove(mac)
	delete(inv.dirty, mac)
	inv.removed[mac] = struct{}{}
	if inv.ages.untidy(inv.phones.len()) {
		inv.ages.rebuild(inv.phones.each)
	}
	return hot
}

// bindLocked records that addr is p's now, taking it from any other phone.
// An address seen only with a User-Agent that carries a MAC is listed but
// not indexed: it may be a NAT router's, shared by many phones, and must
// not decide who a MAC-less request comes from.
func (inv *Inventory) bindLocked(p *Phone, addr netip.Addr, source string, t time.Time) {
	if source != "user-agent" {
		if owner, ok := inv.byAddr.get(addr); ok && owner != p.MAC {
			if other := inv.phones.thaw(owner); other != nil {
				other.Addrs = dropAddr(other.Addrs, addr)
				inv.markLocked(owner, changeWhole)
			}
		}
		inv.byAddr.set(addr, p.MAC)
	} else if owner, ok := inv.byAddr.get(addr); ok && owner == p.MAC {
		source = p.addrSource(addr) // keep the better-founded source
	}
	p.Addrs = dropAddr(p.Addrs, addr)
	// Put it first, in place: a phone renewing its lease allocates nothing.
	p.Addrs = append(p.Addrs, Address{})
	copy(p.Addrs[1:], p.Addrs)
	p.Addrs[0] = Address{Addr: addr, Source: source, Seen: t}
	if len(p.Addrs) > maxAddrs {
		for _, gone := range p.Addrs[maxAddrs:] {
			inv.byAddr.release(gone.Addr, p.MAC)
		}
		p.Addrs = p.Addrs[:maxAddrs]
	}
}

func (inv *Inventory) unbindLocked(p *Phone, addr netip.Addr) {
	inv.byAddr.release(addr, p.MAC)
	p.Addrs = dropAddr(p.Addrs, addr)
}

// addrSource is how p's address addr was learnt, or "user-agent".
func (p *Phone) addrSource(addr netip.Addr) string {
	for _, a := range p.Addrs {
		if a.Addr == addr {
			return a.Source
		}
	}
	return "user-agent"
}

func dropAddr(as []Address, addr netip.Addr) []Address {
	out := as[:0]
	for _, a := range as {
		if a.Addr != addr {
			out = append(out, a)
		}
	}
	return out
}

func seen(p *Phone, t time.Time) {
	if t.After(p.LastSeen) {
		p.LastSeen = t
	}
	if p.FirstSeen.IsZero() || t.Before(p.FirstSeen) {
		p.FirstSeen = t
	}
}

// setIf sets *dst to v unless v is empty. Values repeat across the fleet
// (classes, vendor classes, models), so they are interned: one copy each.
func setIf(dst *string, v string) {
	if v != "" && v != *dst {
		*dst = unique.Make(v).Value()
	}
}
