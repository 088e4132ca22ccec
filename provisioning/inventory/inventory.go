package inventory

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/internal/configcheck"
	"github.com/phoneprov/phoneprov/internal/neigh"
	"github.com/phoneprov/phoneprov/internal/obs"
)

// Neighbor is one entry of the kernel's neighbour (ARP) table.
type Neighbor = neigh.Entry

// Options are what an Inventory is wired to; Path is required. Firmware
// and the functions may be nil. They are called from the Run goroutine and
// from List, Get and metric scrapes at once, so they must be safe for
// concurrent use.
type Options struct {
	Path string // <data_dir>/inventory.journal
	// EarlierPath is the file of earlier versions (<data_dir>/inventory.jsonl);
	// when Path does not exist yet it is moved there and converted. Empty:
	// none.
	EarlierPath string
	Logger      *slog.Logger
	Registry    prometheus.Registerer
	// Now is the clock for states and fact times; time.Now when nil.
	Now func() time.Time
	// Firmware is the firmware catalogue of the file tree (the one the
	// generator reads). When nil, names ending in .bin, .tar or .app are
	// firmware of unknown model and version, and up to date is judged
	// from the boot sequence only.
	Firmware Catalogue
	// IsScript says whether a file name is an upgrade or settings script.
	// When nil, DefaultIsScript.
	IsScript func(name string) bool
	// Fleet is how many phones the site's DHCP pools can serve, 0 when
	// unknown: Config.PhonesFor scales the cap on records with it.
	Fleet int
	// Neighbors reads the kernel's neighbour table (neigh.Table.List);
	// nil leaves phones with static addresses unidentified unless their
	// User-Agent carries their MAC.
	Neighbors func(ctx context.Context) ([]Neighbor, error)
}

// DefaultIsScript recognises Avaya's upgrade and settings scripts by name:
// 46xxupgrade.scr, 96x1Supgrade.txt, J100Supgrade.txt, 46xxsettings.txt, ….
func DefaultIsScript(name string) bool {
	base := strings.ToLower(path.Base(name))
	for _, suffix := range []string{"upgrade.txt", "upgrade.scr", "settings.txt", "settings.scr"} {
		if strings.HasSuffix(base, suffix) {
			return true
		}
	}
	return false
}

// Catalogue is what the inventory asks about the firmware in the file tree
// (firmware.Tree answers it).
type Catalogue interface {
	// FirmwareOf says whether a file name is a firmware image, and for
	// which model and version (empty when unknown).
	FirmwareOf(name string) (model, version string, ok bool)
	// NewestFirmware returns the newest firmware version present for a
	// model or series as the inventory records it (Phone.Model).
	NewestFirmware(model string) (version string, ok bool)
}

// firmwareByExtension recognises firmware images by extension only, for
// an inventory without a catalogue.
func firmwareByExtension(name string) (string, string, bool) {
	switch strings.ToLower(path.Ext(name)) {
	case ".bin", ".tar", ".app":
		return "", "", true
	}
	return "", "", false
}

// Inventory keeps a record per phone, keyed by MAC, folded from DHCP lease
// events, file server access events and the kernel's neighbour table, and
// persisted in a journal file (see store).
//
// ObserveAccess and ObserveLease only queue the fact (they run on the
// servers' goroutines, and wake nobody but for the first fact of a batch,
// see factQueue); Run folds queued facts in on one goroutine and reads
// the neighbour table every Config.NeighborInterval, while another writes
// the changes to disk once per Config.FlushInterval.
type Inventory struct {
	cfg     Config
	opts    Options
	log     *slog.Logger
	db      *store
	queue   *factQueue
	metrics *metrics

	// What the catalogue (Options.Firmware) answers; without one,
	// firmwareOf goes by extension and newest is nil.
	firmwareOf func(name string) (model, version string, ok bool)
	newest     func(model string) (version string, ok bool)

	mu      sync.RWMutex
	phones  records
	byAddr  addrIndex        // the phone each address belongs to, from leases and neighbours
	dirty   map[MAC]change   // changed since the last flush, and how much
	removed map[MAC]struct{} // forgotten or evicted since the last flush
	// The sets a flush swaps in while it writes the others; kept, emptied,
	// so flushes do not allocate new ones.
	spareDirty   map[MAC]change
	spareRemoved map[MAC]struct{}
	ages         ageQueue // phones by last seen, for eviction

	lastEvictLog time.Time // eviction is logged at most once a minute

	agents agentCache // what recent User-Agents say; the worker's
	batch  []fact     // the batch being folded in, then the queue's spare; the worker's

	// The worker's view of the neighbour table, for identifying clients.
	neighbors     map[netip.Addr]Neighbor
	neighborsRead time.Time

	flushMu sync.Mutex // one Flush at a time, so writes land in order

	dropped    atomic.Uint64
	unresolved atomic.Uint64
	runOnce    atomic.Bool
}

// change is how much of a phone's record changed since the last flush.
type change uint8

const (
	// changeTouch: only what a touch record carries (appendTouchFrame).
	changeTouch change = iota + 1
	// changeWhole: anything else; the whole record is written.
	changeWhole
)

// fact is one queued event: a lease event when lease.kind is not 0, else
// an access event. Both are copied into the fact itself, so queueing one
// allocates nothing.
type fact struct {
	access fileserve.AccessEvent
	lease  leaseFact
}

// leaseFact is what the inventory keeps of a dhcpd.LeaseEvent.
type leaseFact struct {
	kind                     dhcpd.LeaseEventKind
	mac                      MAC
	macOK                    bool // the event's MAC had six bytes
	prlLen                   uint8
	prl                      [24]byte // option 55 when it fits (most do)
	prlLong                  []byte   // option 55 when it does not
	time                     time.Time
	addr                     netip.Addr
	class, host, vendorClass string
}

// leaseFactOf copies what the inventory needs of ev; the event's slices
// are not kept, so their owner may reuse them.
func leaseFactOf(ev dhcpd.LeaseEvent) fact {
	l := leaseFact{kind: ev.Kind, time: ev.Time, addr: ev.Addr, class: ev.Class, host: ev.Hostname, vendorClass: ev.VendorClass}
	l.mac, l.macOK = MACFrom(ev.MAC)
	if len(ev.RequestedOptions) <= len(l.prl) {
		l.prlLen = uint8(copy(l.prl[:], ev.RequestedOptions))
	} else {
		l.prlLong = slices.Clone(ev.RequestedOptions)
	}
	return fact{lease: l}
}

// requested returns the parameter request list.
func (l *leaseFact) requested() []byte {
	if l.prlLong != nil {
		return l.prlLong
	}
	return l.prl[:l.prlLen]
}

// Open loads the inventory from opts.Path (creating the file if needed)
// and registers the metrics. Call Run to start folding facts in, and Close
// after Run returns.
func Open(cfg Config, opts Options) (*Inventory, error) {
	if err := configcheck.Check("inventory", cfg.Validate); err != nil {
		return nil, err
	}
	if opts.Path == "" {
		return nil, errors.New("inventory: no database path given")
	}
	cfg.MaxPhones = cfg.PhonesFor(opts.Fleet)
	cfg.QueueLength = cfg.QueueFor(opts.Fleet)
	opts.Logger = obs.Logger(opts.Logger)
	opts.Registry = obs.Registry(opts.Registry)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.IsScript == nil {
		opts.IsScript = DefaultIsScript
	}
	if err := adoptEarlierFile(opts.Path, opts.EarlierPath); err != nil {
		return nil, err
	}
	db, ld, err := openStore(opts.Path)
	if err != nil {
		return nil, err
	}
	logRecovery(opts.Logger, opts.Path, ld)
	inv := &Inventory{
		cfg: cfg, opts: opts, log: opts.Logger, db: db,
		queue:  newFactQueue(cfg.QueueLength),
		phones: newRecords(), byAddr: newAddrIndex(),
		dirty: map[MAC]change{}, removed: map[MAC]struct{}{},
		spareDirty: map[MAC]change{}, spareRemoved: map[MAC]struct{}{},
		firmwareOf: firmwareByExtension,
	}
	if opts.Firmware != nil {
		inv.firmwareOf, inv.newest = opts.Firmware.FirmwareOf, opts.Firmware.NewestFirmware
	}
	for _, p := range ld.phones {
		inv.phones.add(p) // hot until the first flush freezes it
		inv.ages.add(p)
		for _, a := range p.Addrs {
			if a.Source != "user-agent" {
				inv.byAddr.set(a.Addr, p.MAC)
			}
		}
	}
	if inv.metrics, err = newMetrics(opts.Registry, inv); err != nil {
		db.close()
		return nil, err
	}
	inv.log.Info("inventory loaded", "phones", len(ld.phones), "path", opts.Path)
	return inv, nil
}

// logRecovery says what opening the journal found beyond the records.
func logRecovery(log *slog.Logger, path string, ld loaded) {
	rec := ld.recovery
	if rec.Imported {
		log.Info("inventory: converted the journal from the earlier JSON-lines format", "path", path, "phones", len(ld.phones))
	}
	if rec.TornBytes > 0 || rec.Damaged > 0 || ld.unreadable > 0 {
		log.Warn("inventory: damaged records skipped (a torn last record after a crash is normal); those phones are learnt again at their next boot",
			"path", path, "torn_bytes", rec.TornBytes, "damaged_stretches", rec.Damaged, "unreadable_records", ld.unreadable)
	}
}

// ObserveAccess queues a file server access event; it never blocks, and
// counts the event as dropped when the queue is full.
func (inv *Inventory) ObserveAccess(ev fileserve.AccessEvent) {
	inv.enqueue(&fact{access: ev})
}

// ObserveLease queues a DHCP lease event; it never blocks, and counts the
// event as dropped when the queue is full.
func (inv *Inventory) ObserveLease(ev dhcpd.LeaseEvent) {
	f := leaseFactOf(ev)
	inv.enqueue(&f)
}

func (inv *Inventory) enqueue(f *fact) {
	if !inv.queue.push(f) {
		inv.dropped.Add(1)
	}
}

// Run folds queued facts in until ctx ends, then folds what is still
// queued, writes every change to disk and returns. It may be called once.
// Facts are folded in batches (see batchWindow): a fact waits at most
// batchWindow before it shows.
func (inv *Inventory) Run(ctx context.Context) error {
	if !inv.runOnce.CompareAndSwap(false, true) {
		return errors.New("inventory: Run called twice")
	}
	// The writes run beside the folding: while a flush waits for the disk
	// (a storm's first flush writes thousands of new phones and syncs),
	// the facts still being queued are folded in rather than dropped.
	flusherDone := make(chan struct{})
	go func() {
		defer close(flusherDone)
		inv.flushEvery(ctx)
	}()
	defer func() { <-flusherDone }()
	var scan <-chan time.Time
	if inv.opts.Neighbors != nil && inv.cfg.NeighborInterval > 0 {
		t := time.NewTicker(inv.cfg.NeighborInterval)
		defer t.Stop()
		scan = t.C
	}
	window := time.NewTimer(batchWindow)
	window.Stop()
	defer window.Stop()
	windowOpen := false
	// Folding is not cut short by the stop: a fact queued before it still
	// needs its neighbour-table lookup (a bounded read) to find its phone.
	work := context.WithoutCancel(ctx)
	for {
		select {
		case <-ctx.Done():
			inv.foldQueued(work)
			return inv.Flush()
		case <-inv.queue.wake:
			// The first fact of a batch opens a window for more to join
			// it; a full batch is folded in at once.
			if inv.queue.len() < batchFacts {
				if !windowOpen {
					window.Reset(batchWindow)
					windowOpen = true
				}
				continue
			}
			inv.foldQueued(work)
		case <-window.C:
			windowOpen = false
			inv.foldQueued(work)
		case <-scan:
			inv.scanNeighbors(ctx)
		}
	}
}

// flushEvery writes the changes every Config.FlushInterval until ctx ends.
func (inv *Inventory) flushEvery(ctx context.Context) {
	t := time.NewTicker(inv.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := inv.Flush(); err != nil {
				inv.log.Error("inventory not saved; will retry", "err", err)
			}
		}
	}
}

// foldQueued folds in the facts queued so far. One goroutine at a time
// calls it (Run's, then Close's): it owns the spare batch.
func (inv *Inventory) foldQueued(ctx context.Context) {
	inv.batch = inv.queue.take(inv.batch)
	for i := range inv.batch {
		inv.apply(ctx, inv.batch[i])
	}
}

// Close folds in the facts queued since Run returned (the servers report
// the transfers they finish while they drain), writes every change and
// closes the database. Call it after Run has returned and the servers
// that feed the inventory have stopped.
func (inv *Inventory) Close() error {
	inv.foldQueued(context.Background())
	return errors.Join(inv.Flush(), inv.db.close())
}

// Filter selects phones for List; empty fields match everything.
type Filter struct {
	Model    string // exact, case-insensitive
	Firmware string // same version (see SameVersion)
	State    State
	Class    string // exact, case-insensitive
	// Text matches, case-insensitively, a part of the MAC (with colons,
	// dashes or none), a part of an address, the host name, vendor, model, firmware,
	// class, vendor class or User-Agent.
	Text string
}

// List returns the phones that match f, with their states, by MAC.
func (inv *Inventory) List(f Filter) []Phone {
	now := inv.opts.Now()
	inv.mu.RLock()
	out := make([]Phone, 0, inv.phones.len())
	inv.phones.each(func(p *Phone) {
		st, why := inv.judge(p, now)
		if f.State != "" && st != f.State || !f.matches(p) {
			return
		}
		c := p.clone()
		c.State, c.StateReason = st, why
		out = append(out, c)
	})
	inv.mu.RUnlock()
	slices.SortFunc(out, func(a, b Phone) int { return strings.Compare(string(a.MAC[:]), string(b.MAC[:])) })
	return out
}

// Get returns one phone with its state.
func (inv *Inventory) Get(mac MAC) (Phone, bool) {
	now := inv.opts.Now()
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	p := inv.phones.peek(mac, &Phone{})
	if p == nil {
		return Phone{}, false
	}
	c := p.clone()
	c.State, c.StateReason = inv.judge(p, now)
	return c, true
}

// Forget removes a phone's record (an operator's cleanup); it reports
// whether there was one.
func (inv *Inventory) Forget(mac MAC) bool {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	p := inv.phones.peek(mac, &Phone{})
	if p != nil {
		inv.removeLocked(p)
	}
	return p != nil
}

func (f Filter) matches(p *Phone) bool {
	if f.Model != "" && !strings.EqualFold(f.Model, p.Model) {
		return false
	}
	if f.Firmware != "" && !SameVersion(f.Firmware, p.Firmware) {
		return false
	}
	if f.Class != "" && !strings.EqualFold(f.Class, p.Class) {
		return false
	}
	if f.Text == "" {
		return true
	}
	q := strings.ToLower(strings.TrimSpace(f.Text))
	// A MAC or part of one, with or without separators; not an address.
	bare := strings.NewReplacer(":", "", "-", "").Replace(q)
	if bare != "" && strings.Trim(bare, "0123456789abcdef") == "" &&
		strings.Contains(hex.EncodeToString(p.MAC[:]), bare) {
		return true
	}
	fields := []string{p.MAC.String(), p.HostName, p.Vendor, p.Model, p.Firmware, p.Class, p.VendorClass, p.UserAgent}
	for _, a := range p.Addrs {
		fields = append(fields, a.Addr.String())
	}
	for _, s := range fields {
		if strings.Contains(strings.ToLower(s), q) {
			return true
		}
	}
	return false
}

// Dropped is the number of facts dropped because the queue was full.
func (inv *Inventory) Dropped() uint64 { return inv.dropped.Load() }

// Flush writes the records changed since the last flush, each once
// however many facts changed it, in one append. Run calls it every
// Config.FlushInterval; a failed write is retried at the next one.
func (inv *Inventory) Flush() error {
	inv.flushMu.Lock()
	defer inv.flushMu.Unlock()
	inv.mu.Lock()
	// The phones that did not change since the last flush are frozen:
	// what changed is encoded below and stays hot for one more interval.
	inv.phones.freeze(inv.dirty)
	if len(inv.dirty) == 0 && len(inv.removed) == 0 && !inv.db.wantsRewrite() {
		inv.mu.Unlock()
		return nil
	}
	b := inv.db.appendBatch()
	for mac := range inv.removed {
		b.add(func(dst []byte) []byte { return appendRemovalFrame(dst, mac) })
	}
	for mac, c := range inv.dirty {
		p := inv.phones.thaw(mac) // hot: freeze leaves the changed phones
		switch {
		case p == nil:
		case c == changeTouch:
			b.add(func(dst []byte) []byte { return appendTouchFrame(dst, p) })
		default:
			b.add(func(dst []byte) []byte { return appendPhoneFrame(dst, p) })
		}
	}
	// The sets are swapped with the spare pair, not reallocated: a failed
	// write puts them back.
	dirty, removed := inv.dirty, inv.removed
	inv.dirty, inv.removed = inv.spareDirty, inv.spareRemoved
	inv.mu.Unlock()

	err := b.commit()
	inv.mu.Lock()
	if err != nil {
		for mac, c := range dirty {
			if inv.phones.has(mac) {
				inv.markLocked(mac, c)
			}
		}
		for mac := range removed {
			if !inv.phones.has(mac) {
				inv.removed[mac] = struct{}{}
			}
		}
	}
	clear(dirty)
	clear(removed)
	inv.spareDirty, inv.spareRemoved = dirty, removed
	inv.mu.Unlock()
	if err != nil {
		inv.metrics.flushErrors.Inc()
		return err
	}
	inv.metrics.flushes.Inc()
	if inv.db.wantsRewrite() {
		if err := inv.rewriteLocked(); err != nil {
			inv.metrics.flushErrors.Inc()
			return err
		}
	}
	return nil
}

// rewriteLocked replaces the journal with one record per phone. The
// caller holds flushMu; the phones are encoded under the read lock, so
// folding waits for the encoding and the writes to the page cache, not
// for the disk.
func (inv *Inventory) rewriteLocked() error {
	err := inv.db.rewrite(func(add func(func([]byte) []byte)) {
		inv.mu.RLock()
		defer inv.mu.RUnlock()
		inv.phones.eachFrame(add)
		// Changes folded in after this point are still marked dirty, and
		// the next flush appends them to the new file.
	})
	if err != nil {
		return err
	}
	inv.metrics.rewrites.Inc()
	return nil
}

// MACAt returns the phone that holds addr (by lease, neighbour table or
// an earlier request), for the generator's per-phone answers.
func (inv *Inventory) MACAt(addr netip.Addr) (MAC, bool) {
	inv.mu.RLock()
	defer inv.mu.RUnlock()
	mac, ok := inv.byAddr.get(addr)
	return mac, ok
}
