package provisioning

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/phoneprov/phoneprov/fileserve"
	"github.com/phoneprov/phoneprov/provisioning/firmware"
	"github.com/phoneprov/phoneprov/provisioning/script"
)

// Options wire a Generator to the rest of the appliance.
type Options struct {
	// FilesDir is the operator's file tree, the one the file server serves.
	FilesDir string
	// CACertName is the name under which the file server serves the
	// appliance's CA certificate (fileserve.CAFileName), for TRUSTCERTS;
	// empty when it serves none (HTTPS off, or the operator's own
	// certificate without a CA).
	CACertName string
	// NoHTTPS says the file server does not serve HTTPS, so the settings
	// file leaves out TLSSRVR and BRURI (a phone told to use HTTPS where
	// nothing answers would wait for it at every boot).
	NoHTTPS bool
	// Log receives warnings (a pinned file missing, …); nil discards them.
	Log *slog.Logger
	// Metrics may be nil. Create them once with NewMetrics and hand the
	// same value to every Generator (a reload must not register twice).
	Metrics *Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rollouts, when set, changes upgrade scripts per requester while a
	// firmware roll-out is in force; nil: no roll-outs.
	Rollouts Rollouts
	// Firmware is the firmware catalogue of FilesDir, shared with the
	// inventory and the status page; the generator sets its mappings
	// from the configuration. nil: the generator makes its own.
	Firmware *firmware.Tree
}

// Generator makes the settings file, upgrade scripts and per-phone files
// the operator has not placed. It implements fileserve.Generator and is safe
// for concurrent use.
//
// During a boot storm every phone asks for the same few names, so results
// are made once per (name, server address), with their ETag, and kept:
// a request for a cached file costs a lock-free map lookup, no stat, no
// hashing. The cache is dropped when the configuration changes (SetConfig,
// at once) or the firmware catalogue (Options.Firmware) scans the tree
// anew after a change to it.
type Generator struct {
	opts Options
	conf atomic.Pointer[compiled]
	snap atomic.Pointer[snapshot]
	mu   sync.Mutex // serialises making snapshots
}

// compiled is a validated configuration, ready to use.
type compiled struct {
	cfg      Config
	loaded   time.Time
	phones   map[string]PhoneConfig // normalised MAC → entry
	pins     map[string]string      // MODEL4 (upper case) → file
	mappings []firmware.Mapping
	skip     map[string]bool
}

// snapshot is what the generator knows about the tree at one moment, with
// the files rendered from it.
type snapshot struct {
	conf    *compiled
	catalog *firmware.Catalog

	cache  sync.Map     // cacheKey → *fileserve.Generated
	cached atomic.Int64 // entries in cache, about
}

type cacheKey struct {
	name  string // as asked for: phones ask in the same spelling every time
	local netip.Addr
	plan  string // the roll-out plan's key; empty when none is in force
}

// maxCached bounds the cache; past it the cache starts over. Names are few
// (settings, seven scripts, the configured phones) times the server's
// addresses, so this is never reached in normal use.
const maxCached = 8192

// New validates cfg and returns a Generator for the tree in opts.FilesDir.
func New(cfg Config, opts Options) (*Generator, error) {
	if opts.FilesDir == "" {
		return nil, errors.New("provisioning: no file tree given")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Firmware == nil {
		opts.Firmware = firmware.NewTree(opts.FilesDir, opts.Now)
	} else if opts.Firmware.Dir() != opts.FilesDir {
		return nil, fmt.Errorf("provisioning: the firmware catalogue lists %s, not the file tree %s", opts.Firmware.Dir(), opts.FilesDir)
	}
	g := &Generator{opts: opts}
	if err := g.SetConfig(cfg); err != nil {
		return nil, err
	}
	return g, nil
}

// SetRollouts wires the roll-outs in after New (they read the inventory,
// which is built after the generator). Call it before serving.
func (g *Generator) SetRollouts(r Rollouts) { g.opts.Rollouts = r }

// SetConfig replaces the configuration (on reload). A configuration that
// does not validate is refused and the running one stays.
func (g *Generator) SetConfig(cfg Config) error {
	var errs []error
	cfg.Validate(func(key string, err error) {
		errs = append(errs, fmt.Errorf("provisioning.%s: %w", key, err))
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	c := &compiled{cfg: cfg, loaded: g.opts.Now(), phones: map[string]PhoneConfig{}, pins: map[string]string{}, skip: map[string]bool{}}
	for _, p := range cfg.Phones {
		mac, _ := NormalizeMAC(p.MAC)
		c.phones[mac] = p
	}
	for model, file := range cfg.Pin {
		c.pins[strings.ToUpper(model)] = file
	}
	for _, n := range cfg.SkipAuto {
		c.skip[n] = true
	}
	c.mappings = cfg.mappings()
	g.conf.Store(c)
	g.opts.Firmware.SetMappings(c.mappings)
	return nil
}

// Generate implements fileserve.Generator. It returns fileserve.ErrNotFound
// for names it does not make. name is matched without regard to case. The
// result is shared with other requests through the cache: read it, never
// change it.
func (g *Generator) Generate(ctx context.Context, name string, client fileserve.Client) (*fileserve.Generated, error) {
	return g.generate(ctx, name, client, "")
}

// generate is Generate for the phone at client.Addr, or with mac when
// the caller names it.
func (g *Generator) generate(ctx context.Context, name string, client fileserve.Client, mac string) (*fileserve.Generated, error) {
	s, err := g.current(ctx)
	if err != nil {
		return nil, err
	}
	var plan *UpgradePlan
	if g.opts.Rollouts != nil && isUpgradeScript(name) {
		// Only upgrade scripts differ per phone: settings and phone
		// files share one cached copy, and ask for no plan.
		plan = g.opts.Rollouts.UpgradePlan(client.Addr, mac)
	}
	local := client.Local.Unmap().WithZone("")
	key := cacheKey{name: name, local: local, plan: plan.key()}
	if out, ok := s.cache.Load(key); ok {
		g.opts.Metrics.cacheLookup(true)
		return out.(*fileserve.Generated), nil
	}
	canonical, kind, ok := g.identify(s, name)
	if !ok {
		return nil, fileserve.ErrNotFound
	}
	g.opts.Metrics.cacheLookup(false)
	out, err := g.make(s, canonical, kind, local, plan)
	if err != nil {
		return nil, err
	}
	if s.cached.Add(1) > maxCached {
		s.cache.Clear()
		s.cached.Store(1)
	}
	// Two requests that missed at once may both have made it; the
	// first one stored is what every later request gets.
	stored, _ := s.cache.LoadOrStore(key, out)
	return stored.(*fileserve.Generated), nil
}

// make renders one file and computes its ETag, once.
func (g *Generator) make(s *snapshot, canonical string, kind fileKind, local netip.Addr, plan *UpgradePlan) (*fileserve.Generated, error) {
	data, err := g.render(s, canonical, kind, local, plan)
	if err != nil {
		return nil, err
	}
	mod := s.conf.loaded
	if s.catalog.Modified.After(mod) {
		mod = s.catalog.Modified
	}
	g.opts.Metrics.generatedFile(kind)
	return fileserve.NewGenerated(canonical, data, mod.Truncate(time.Second)), nil
}

// fileKind is what sort of file a generated name is.
type fileKind string

const (
	kindSettings fileKind = "settings"
	kindUpgrade  fileKind = "upgrade"
	kindPhone    fileKind = "phone"
)

// settingsName is the settings file phones fetch after the upgrade script.
const settingsName = "46xxsettings.txt"

// identify says whether the generator makes name, under which canonical
// spelling, and what it is.
func (g *Generator) identify(s *snapshot, name string) (string, fileKind, bool) {
	if strings.Contains(name, "/") {
		return "", "", false // generated files live at the top of the tree
	}
	conf := s.conf
	if strings.EqualFold(name, settingsName) {
		// A 46xxsettings.scr of the operator's is their settings file;
		// phones that read it must not get a generated one besides.
		if _, has := s.catalog.Has("46xxsettings.scr"); has || !conf.cfg.GenerateSettings {
			return "", "", false
		}
		return settingsName, kindSettings, true
	}
	if info, ok := firmware.ByScript(name); ok {
		if !conf.cfg.GenerateUpgrade {
			return "", "", false
		}
		canonical := info.Script
		for _, a := range info.Aliases {
			if strings.EqualFold(a, name) {
				canonical = a
			}
		}
		return canonical, kindUpgrade, true
	}
	if script.IsPhoneFile(name) {
		mac, err := NormalizeMAC(strings.TrimSuffix(strings.ToLower(name), ".txt"))
		if err != nil {
			return "", "", false
		}
		if _, ok := conf.phones[mac]; ok {
			return mac + ".txt", kindPhone, true
		}
	}
	return "", "", false
}

// render makes one file in normal script form.
func (g *Generator) render(s *snapshot, canonical string, kind fileKind, local netip.Addr, plan *UpgradePlan) ([]byte, error) {
	var sc *script.Script
	switch kind {
	case kindSettings:
		sc = buildSettings(s.conf, s.catalog, local, g.opts.CACertName, g.opts.NoHTTPS)
	case kindUpgrade:
		info, _ := firmware.ByScript(canonical)
		sc = buildUpgrade(info, canonical, s.conf, s.catalog, plan)
	case kindPhone:
		mac := strings.TrimSuffix(canonical, ".txt")
		sc = buildPhone(mac, s.conf.phones[mac], s.catalog)
	default:
		return nil, fmt.Errorf("provisioning: unknown kind %q", kind)
	}
	return sc.Format(), nil
}

// current returns the snapshot for the firmware catalogue and the
// configuration as they are: the one in hand while both are the same,
// else a new one with an empty cache. The catalogue looks at the tree
// every firmware.TreeRecheck at most.
func (g *Generator) current(ctx context.Context) (*snapshot, error) {
	cat, err := g.opts.Firmware.Catalog(ctx)
	if err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}
	conf := g.conf.Load()
	if s := g.snap.Load(); s != nil && s.conf == conf && s.catalog == cat {
		return s, nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	// Asked again under mu, so that a request holding an older catalog
	// does not replace a snapshot made from a newer one.
	if cat, err = g.opts.Firmware.Catalog(ctx); err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}
	conf = g.conf.Load()
	prev := g.snap.Load()
	if prev != nil && prev.conf == conf && prev.catalog == cat {
		return prev, nil // made by a request that waited on mu before this one
	}
	s := &snapshot{conf: conf, catalog: cat}
	g.snap.Store(s)
	if prev == nil || prev.catalog != cat {
		g.opts.Metrics.scanned(len(cat.Images))
		g.logScan(ctx, s)
	}
	return s, nil
}

// logScan reports, once per scan, what would otherwise go wrong silently.
func (g *Generator) logScan(ctx context.Context, s *snapshot) {
	log := g.opts.Log
	log.DebugContext(ctx, "scanned firmware", "dir", g.opts.FilesDir, "images", len(s.catalog.Images), "unrecognised", len(s.catalog.Unrecognised))
	for _, f := range pinFindings(s.conf, s.catalog) {
		log.WarnContext(ctx, "firmware pin", "problem", f.Message)
	}
	for _, n := range s.catalog.Unrecognised {
		log.InfoContext(ctx, "firmware file not recognised; describe it with [[provisioning.firmware]] if phones should get it", "file", n)
	}
}

// Rendered is what a phone would receive for a name.
type Rendered struct {
	Name   string           // as served
	Data   []byte           //
	Source fileserve.Source // SourceOperator or SourceGenerated
}

// maxRender bounds an operator file Render reads into memory.
const maxRender = 64 << 20

// Render returns what a phone asking for name would receive from the tree
// or the generator: the operator's file when there is one (exact name, or
// at the top of the tree without regard to case), else the generated file.
// Built-in files (the CA certificate) are the file server's and not
// covered. client.Local is the server address the phone talked to; leave
// it invalid to omit the values that depend on it. mac, when not empty,
// names the phone (any usual spelling), for the roll-outs in force;
// otherwise the phone is the one at client.Addr.
func (g *Generator) Render(ctx context.Context, name string, client fileserve.Client, mac string) (Rendered, error) {
	if mac != "" {
		m, err := NormalizeMAC(mac)
		if err != nil {
			return Rendered{}, err
		}
		mac = m
	}
	clean, err := fileserve.CleanName(name)
	if err != nil {
		return Rendered{}, err
	}
	s, err := g.current(ctx)
	if err != nil {
		return Rendered{}, err
	}
	if r, ok, err := g.operatorFile(s, clean); ok || err != nil {
		return r, err
	}
	out, err := g.generate(ctx, clean, client, mac)
	if err != nil {
		return Rendered{}, err
	}
	return Rendered{Name: out.Name, Data: out.Data, Source: fileserve.SourceGenerated}, nil
}

func (g *Generator) operatorFile(s *snapshot, name string) (Rendered, bool, error) {
	root, err := os.OpenRoot(g.opts.FilesDir)
	if err != nil {
		return Rendered{}, false, fmt.Errorf("provisioning: %w", err)
	}
	defer root.Close()
	actual := name
	if _, err := root.Stat(name); errors.Is(err, fs.ErrNotExist) {
		n, ok := s.catalog.Has(name)
		if !ok {
			return Rendered{}, false, nil
		}
		actual = n
	}
	f, err := root.Open(actual)
	if err != nil {
		return Rendered{}, false, fmt.Errorf("provisioning: %s: %w", actual, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return Rendered{}, false, nil
	}
	data, err := io.ReadAll(io.LimitReader(f, maxRender+1))
	if err != nil {
		return Rendered{}, false, fmt.Errorf("provisioning: %s: %w", actual, err)
	}
	if len(data) > maxRender {
		return Rendered{}, false, fmt.Errorf("provisioning: %s is larger than %d bytes; not rendering it", actual, maxRender)
	}
	return Rendered{Name: actual, Data: data, Source: fileserve.SourceOperator}, true, nil
}

// Names lists the files the generator serves now: those it makes and the
// operator has not placed.
func (g *Generator) Names(ctx context.Context) ([]string, error) {
	s, err := g.current(ctx)
	if err != nil {
		return nil, err
	}
	var candidates []string
	candidates = append(candidates, settingsName)
	for _, info := range firmware.AllSeries() {
		candidates = append(candidates, info.Script)
		candidates = append(candidates, info.Aliases...)
	}
	for mac := range s.conf.phones {
		candidates = append(candidates, mac+".txt")
	}
	var out []string
	for _, n := range candidates {
		if _, placed := s.catalog.Has(n); placed {
			continue
		}
		if canonical, _, ok := g.identify(s, n); ok {
			out = append(out, canonical)
		}
	}
	sortNames(out)
	return out, nil
}

// isUpgradeScript says whether name is a series' upgrade script (or an
// alias of one), the only generated files a roll-out changes.
func isUpgradeScript(name string) bool {
	_, ok := firmware.ByScript(name)
	return ok
}
