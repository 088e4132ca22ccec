// Package phone runs one simulated phone from power-on until it is
// provisioned: DHCP, the leased address put on the interface, then the
// files its family asks for (Avaya scripts, settings, certificates,
// firmware and a settings backup; for the other vendors the first files
// the phone fact table names, from the server the DHCP options it reads
// name), restarting after a firmware update as the real phone does. A phone remembers across its restarts what a real one keeps:
// its address, the certificates it trusts and the firmware it runs.
package phone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/dhcpc"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/fetch"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/model"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/tftpc"
)

// Steps a phone goes through; a failure names the one it failed in.
const (
	StepDHCP     = "dhcp"
	StepScript   = "script"   // the first file: upgrade script, Cisco/Polycom configuration
	StepSettings = "settings" // files the first one leads to (GET, CONFIG_FILES)
	StepCerts    = "certs"    // TRUSTCERTS
	StepFirmware = "firmware"
	StepBackup   = "backup"
	StepReboot   = "reboot"
	StepDone     = "done"
)

// State is how a phone's boot ended.
type State string

// The outcomes.
const (
	// Provisioned: the phone got its configuration (and firmware, if one
	// was offered) from the server.
	Provisioned State = "provisioned"
	// Kept: the server answered but had no configuration for this phone,
	// so it goes on with what it has (Cisco and Polycom phones without
	// files on the server). Not a failure.
	Kept State = "kept"
	// Failed: a step did not complete; Step and Reason say which and why.
	Failed State = "failed"
)

// DHCP is what a phone needs from the shared DHCP client.
type DHCP interface {
	Acquire(ctx context.Context, id dhcpc.Identity, previous netip.Addr, r dhcpc.Retry) (dhcpc.Lease, error)
}

// Addresses puts leased addresses on the phones' interface.
type Addresses interface {
	Add(p netip.Prefix, owner string) error
	Remove(addr netip.Addr) error
}

// Env is what every phone of a run shares.
type Env struct {
	DHCP      DHCP
	Addresses Addresses
	// DHCPRetry is the DHCP retransmission schedule.
	DHCPRetry dhcpc.Retry
	// FetchTries is how often the whole list of servers is tried for one
	// file before the phone gives up; FetchBackoff is the first wait
	// between rounds, doubling.
	FetchTries   int
	FetchBackoff time.Duration
	// FetchBackoffMax caps that doubling wait (0: no cap). How long a
	// real phone waits after a refusal (HTTP 503, TFTP busy) is
	// unconfirmed: no Avaya guide in the reference says.
	FetchBackoffMax time.Duration
	// ConnectTimeout and RequestTimeout bound each HTTP(S) request.
	ConnectTimeout, RequestTimeout time.Duration
	// TFTP tunes TFTP transfers.
	TFTP tftpc.Options
	// TFTPPort is the TFTP server port (69).
	TFTPPort uint16
	// MaxBoots bounds restarts after firmware updates.
	MaxBoots int
	// RebootDelay is how long a restart takes (flashing, booting).
	RebootDelay time.Duration
	// RefuseFirmware, when set, is a firmware version (or APPNAME) the
	// phones download but fail to take: they restart and come back on
	// the firmware they ran. A fault injected for the roll-out brake's
	// tests; which failures a real phone has, and that it falls back to
	// its previous image, is unconfirmed.
	RefuseFirmware string
	// Observe is told about every transfer.
	Observe fetch.Observer
	// Dialed, if set, is told about every HTTP(S) connection a phone
	// opens (fetch.Config.Dialed).
	Dialed func(fetch.Protocol)
	// Log receives one line per phone event at debug level.
	Log *slog.Logger
}

// capWait is a wait between fetch rounds, at most FetchBackoffMax.
func (e *Env) capWait(d time.Duration) time.Duration {
	if e.FetchBackoffMax > 0 {
		return min(d, e.FetchBackoffMax)
	}
	return d
}

func (e *Env) defaults() {
	if e.FetchTries <= 0 {
		e.FetchTries = 3
	}
	if e.FetchBackoff <= 0 {
		e.FetchBackoff = time.Second
	}
	if e.TFTPPort == 0 {
		e.TFTPPort = 69
	}
	if e.MaxBoots <= 0 {
		e.MaxBoots = 3
	}
	if e.Log == nil {
		e.Log = slog.New(slog.DiscardHandler)
	}
	if e.TFTP.Timeout == 0 && e.TFTP.Retries == 0 && e.TFTP.BlockSize == 0 {
		e.TFTP = tftpc.Options{BlockSize: 1024, TSize: true, Timeout: 2 * time.Second, Retries: 5}
	}
}

// Phone is one simulated phone. Its methods are not safe for concurrent
// use, except Step.
type Phone struct {
	// Model is what the phone is.
	Model model.Model
	// MAC is its hardware address.
	MAC net.HardwareAddr
	// Ext is its extension, which names its backup file.
	Ext string
	// Group is $GROUP.
	Group string
	// Password is the registration password, sent in the backup's
	// Authorization header.
	Password string

	// What survives a restart.
	addr     netip.Addr
	firmware string
	appName  string
	trusted  map[string][]byte // TRUSTCERTS file → PEM

	mu   sync.Mutex
	step string
}

// New returns a phone of model m, out of the box.
func New(m model.Model, mac net.HardwareAddr, ext string) *Phone {
	return &Phone{Model: m, MAC: mac, Ext: ext, Group: "0", Password: ext, firmware: m.Firmware, appName: m.AppName, trusted: map[string][]byte{}, step: "off"}
}

// Step is what the phone is doing now, for progress displays.
func (p *Phone) Step() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.step
}

func (p *Phone) setStep(s string) {
	p.mu.Lock()
	p.step = s
	p.mu.Unlock()
}

// Record is one file transfer in a phone's history.
type Record struct {
	Boot     int    `json:"boot"`
	Protocol string `json:"protocol"`
	Method   string `json:"method"`
	URL      string `json:"url"`
	Status   int    `json:"status,omitempty"`
	Bytes    int64  `json:"bytes"`
	Error    string `json:"error,omitempty"`
}

// Result is how a phone's run ended.
type Result struct {
	MAC            string        `json:"mac"`
	Model          string        `json:"model"`
	HostName       string        `json:"host_name,omitempty"`
	Addr           string        `json:"address,omitempty"`
	State          State         `json:"state"`
	Step           string        `json:"step,omitempty"`
	Reason         string        `json:"reason,omitempty"`
	FirmwareBefore string        `json:"firmware_before"`
	Firmware       string        `json:"firmware"`
	Boots          int           `json:"boots"`
	TrustedCerts   int           `json:"trusted_certs"`
	Elapsed        time.Duration `json:"elapsed_ns"`
	// Leased is when the first boot's DHCP exchange ended, from power-on.
	Leased time.Duration `json:"leased_ns,omitempty"`
	// OptionsRead are the options the phone reads (by the fact table)
	// that the last DHCP reply carried.
	OptionsRead []int `json:"options_read,omitempty"`
	// Backup says what became of the user-settings backup: BackupDone,
	// BackupFTPSkipped or "" (the phone backs up nothing here).
	Backup string   `json:"backup,omitempty"`
	Notes  []string `json:"notes,omitempty"`
	Files  []Record `json:"files,omitempty"`
}

// What became of a backup.
const (
	// BackupDone: restored and saved with HTTP GET and PUT under BRURI.
	BackupDone = "http-put"
	// BackupFTPSkipped: the phone backs up by FTP to FTPSRVR (the 4600),
	// which phonesim does not speak; nothing was sent.
	BackupFTPSkipped = "ftp-skipped"
)

// failure is an error tied to the step it happened in.
type failure struct {
	step string
	err  error
}

func (f *failure) Error() string { return f.step + ": " + f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

func fail(step string, err error) error { return &failure{step: step, err: err} }

func failf(step, format string, a ...any) error { return fail(step, fmt.Errorf(format, a...)) }

// outcome is how one boot ended when it did not fail.
type outcome struct {
	state  State
	reboot bool // a new firmware was installed: start again
}

// boot is one pass from DHCP to the end, with what it needs.
type boot struct {
	p      *Phone
	env    *Env
	n      int
	lease  dhcpc.Lease
	client *fetch.Client
	res    *Result
	mu     sync.Mutex // guards res.Files (the observer may run concurrently)
}

// Run boots the phone until it is provisioned, kept its configuration or
// failed, restarting after firmware updates, and reports how it went.
func (p *Phone) Run(ctx context.Context, env Env) Result {
	env.defaults()
	start := time.Now()
	res := Result{MAC: p.MAC.String(), Model: p.Model.Name, HostName: p.Model.HostName(p.MAC), FirmwareBefore: p.firmware}
	finish := func(st State, err error) Result {
		res.State, res.Firmware, res.TrustedCerts = st, p.firmware, len(p.trusted)
		res.Elapsed = time.Since(start)
		if p.addr.IsValid() {
			res.Addr = p.addr.String()
		}
		if err != nil {
			var f *failure
			if errors.As(err, &f) {
				res.Step, res.Reason = f.step, f.err.Error()
			} else {
				res.Step, res.Reason = p.Step(), err.Error()
			}
			env.Log.Debug("phone failed", "mac", res.MAC, "model", res.Model, "step", res.Step, "reason", res.Reason)
		}
		p.setStep(StepDone)
		return res
	}
	for n := 1; ; n++ {
		res.Boots = n
		out, err := p.boot(ctx, &env, n, &res, start)
		if err != nil {
			return finish(Failed, err)
		}
		if !out.reboot {
			return finish(out.state, nil)
		}
		if n >= env.MaxBoots {
			return finish(Failed, failf(StepFirmware, "still offered a new firmware after %d restarts (APPNAME never matches what it installed)", n))
		}
		p.setStep(StepReboot)
		if env.RebootDelay > 0 {
			select {
			case <-ctx.Done():
				return finish(Failed, fail(StepReboot, ctx.Err()))
			case <-time.After(env.RebootDelay):
			}
		}
	}
}

// boot runs one pass.
func (p *Phone) boot(ctx context.Context, env *Env, n int, res *Result, poweredOn time.Time) (outcome, error) {
	p.setStep(StepDHCP)
	id := dhcpc.Identity{
		MAC: p.MAC, HostName: p.Model.HostName(p.MAC), VendorClass: string(p.Model.VendorClass),
		ParamRequest: p.Model.ParamRequest, MaxMessageSize: p.Model.MaxMessageSize,
		RequireLeaseTime: p.Model.RequireLeaseTime,
	}
	lease, err := env.DHCP.Acquire(ctx, id, p.addr, env.DHCPRetry)
	if err != nil {
		return outcome{}, fail(StepDHCP, err)
	}
	if n == 1 {
		res.Leased = time.Since(poweredOn)
	}
	owner := p.MAC.String() + " (" + p.Model.Name + ")"
	if p.addr.IsValid() && lease.Addr() != p.addr {
		if err := env.Addresses.Remove(p.addr); err != nil {
			return outcome{}, fail(StepDHCP, err)
		}
	}
	if err := env.Addresses.Add(lease.Prefix, owner); err != nil {
		return outcome{}, fail(StepDHCP, err)
	}
	p.addr = lease.Addr()
	res.OptionsRead = res.OptionsRead[:0]
	for _, code := range p.Model.OptionsRead {
		if _, ok := lease.Options[uint8(code)]; ok {
			res.OptionsRead = append(res.OptionsRead, code)
		}
	}

	b := &boot{p: p, env: env, n: n, lease: lease, res: res}
	b.client = fetch.New(fetch.Config{
		Local: p.addr, UserAgent: p.Model.UserAgent(p.firmware, p.MAC),
		ConnectTimeout: env.ConnectTimeout, RequestTimeout: env.RequestTimeout,
		TFTP: env.TFTP, Observe: b.observe, Dialed: env.Dialed, TLSMax: p.Model.TLSMax,
	})
	defer b.client.Close()
	for name, pem := range p.trusted {
		if err := b.client.Trust(pem); err != nil {
			return outcome{}, failf(StepCerts, "%s: %v", name, err)
		}
	}
	switch f := p.Model.Family; {
	case f.IsAvaya():
		return b.avaya(ctx)
	case f == model.CiscoSCCP:
		return b.cisco(ctx)
	case f == model.MitelMiNet:
		return b.minet()
	}
	return b.files(ctx)
}

// observe records a transfer in the phone's history and passes it on.
func (b *boot) observe(t fetch.Transfer) {
	r := Record{Boot: b.n, Protocol: string(t.Protocol), Method: t.Method, URL: t.URL, Status: t.Status, Bytes: t.Bytes}
	if t.Err != nil {
		r.Error = t.Err.Error()
	}
	b.mu.Lock()
	b.res.Files = append(b.res.Files, r)
	b.mu.Unlock()
	if b.env.Observe != nil {
		b.env.Observe(t)
	}
}

func (b *boot) note(format string, a ...any) {
	b.mu.Lock()
	b.res.Notes = append(b.res.Notes, fmt.Sprintf("boot %d: ", b.n)+fmt.Sprintf(format, a...))
	b.mu.Unlock()
}

// install takes a downloaded firmware into use at the next restart,
// unless it is the one Env.RefuseFirmware names: then the phone restarts
// on the firmware it ran.
func (b *boot) install(appName, version string) outcome {
	if r := b.env.RefuseFirmware; r != "" && (strings.EqualFold(r, version) || strings.EqualFold(r, appName)) {
		b.note("did not take %s (-refuse-firmware): restarting on %s", appName, b.p.firmware)
		return outcome{state: Provisioned, reboot: true}
	}
	b.p.appName, b.p.firmware = appName, version
	return outcome{state: Provisioned, reboot: true}
}

// source is one place a file may come from.
type source struct {
	proto  fetch.Protocol
	server string // host:port
	dir    string // path prefix
}

func (s source) String() string { return string(s.proto) + "://" + s.server + "/" + s.dir }

// getFrom tries the sources in order, in up to FetchTries rounds with
// back-off, like a phone that keeps asking. A "not found" ends the search
// (the server answered); an untrusted certificate or an unreachable
// server moves on to the next source at once. skip lets the caller drop a
// source for the rest of the boot (HTTPS that does not answer).
func (b *boot) getFrom(ctx context.Context, name string, sources func() []source, onError func(source, error), w writerReset) error {
	wait := b.env.capWait(b.env.FetchBackoff)
	var errs []error
	for round := 1; round <= b.env.FetchTries; round++ {
		srcs := sources()
		if len(srcs) == 0 {
			return fmt.Errorf("%s: no server to ask", name)
		}
		errs = errs[:0]
		for _, s := range srcs {
			w.Reset()
			path := strings.TrimSuffix(strings.TrimPrefix(s.dir, "/"), "/")
			if path != "" {
				path += "/"
			}
			_, err := b.client.Get(ctx, s.proto, s.server, path+name, w)
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, fetch.ErrNotFound) {
				return err
			}
			if onError != nil {
				onError(s, err)
			}
			errs = append(errs, err)
		}
		if round < b.env.FetchTries {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait = b.env.capWait(wait * 2)
		}
	}
	return fmt.Errorf("after %d rounds: %w", b.env.FetchTries, errors.Join(errs...))
}

// writerReset is a download target that can start over for a retry.
type writerReset interface {
	Write([]byte) (int, error)
	Reset()
}

// discard counts bytes and keeps none (firmware).
type discard struct{ n int64 }

func (d *discard) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }
func (d *discard) Reset()                      { d.n = 0 }

// limited keeps up to max bytes (scripts, settings, certificates).
type limited struct {
	buf []byte
	max int
}

func (l *limited) Write(p []byte) (int, error) {
	if len(l.buf)+len(p) > l.max {
		return 0, fmt.Errorf("file larger than %d bytes", l.max)
	}
	l.buf = append(l.buf, p...)
	return len(p), nil
}
func (l *limited) Reset() { l.buf = l.buf[:0] }

// maxTextFile bounds scripts and configuration files a phone keeps.
const maxTextFile = 1 << 20
