package phone

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/cmd/phonesim/facts"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/avayaopt"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/fetch"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/model"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/script"
)

// avayaServers are the file-server parameters of the option string, which
// the scripts may change with SET.
type avayaServers struct {
	https, http, tftp   []string // host names or addresses
	httpsPort, httpPort int
	httpDir, tftpDir    string
	// httpsDir is TLSDIR; until it is set, HTTPDIR applies to HTTPS too.
	httpsDir    string
	httpsDirSet bool
	// httpsDown and httpsNoTLS skip HTTPS for the rest of the boot: it did
	// not answer, or its certificate is not trusted.
	httpsDown, httpsNoTLS bool
}

// set applies one NAME=value from the option string or a SET.
func (s *avayaServers) set(name, value string) {
	port := func(v string, dst *int) {
		if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 && n < 65536 {
			*dst = n
		}
	}
	switch name {
	case "HTTPSRVR":
		s.http = splitList(value)
	case "TLSSRVR":
		s.https = splitList(value)
	case "TFTPSRVR":
		s.tftp = splitList(value)
	case "HTTPPORT":
		port(value, &s.httpPort)
	case "TLSPORT":
		port(value, &s.httpsPort)
	case "HTTPDIR":
		s.httpDir = value
	case "TLSDIR":
		s.httpsDir, s.httpsDirSet = value, true
	case "TFTPDIR":
		s.tftpDir = value
	}
}

// avaya is one boot of an Avaya phone.
func (b *boot) avaya(ctx context.Context) (outcome, error) {
	m := b.p.Model
	// The option the table says the model reads: 176 (4600) or 242.
	code := m.AvayaOption()
	srv := &avayaServers{httpsPort: m.DefaultTLSPort, httpPort: 80}
	raw, ok := b.lease.Options[code]
	var params avayaopt.Params
	if ok {
		var err error
		if params, err = avayaopt.Parse(string(raw)); err != nil {
			return outcome{}, failf(StepDHCP, "option %d: %v", code, err)
		}
		for _, name := range params.Names() {
			v, _ := params.Get(name)
			srv.set(name, v)
		}
	} else {
		b.note("the DHCP reply had no option %d", code)
	}
	if len(srv.http)+len(srv.https)+len(srv.tftp) == 0 {
		return outcome{}, failf(StepDHCP, "no file server: the reply had no option %d with HTTPSRVR/TLSSRVR/TFTPSRVR", code)
	}

	vars := map[string]string{
		"MODEL4": m.Name, "MODEL": m.Name, "GROUP": b.p.Group, "SIG": m.Sig,
		"MACADDR": model.MACHex(b.p.MAC), "BOOTNAME": b.p.appName,
	}
	step := StepScript
	get := func(ctx context.Context, name string) ([]byte, error) {
		b.p.setStep(step)
		var buf limited
		buf.max = maxTextFile
		err := b.avayaGet(ctx, srv, name, &buf)
		if errors.Is(err, fetch.ErrNotFound) {
			return nil, fmt.Errorf("%w: %w", script.ErrNotFound, err)
		}
		return buf.buf, err
	}

	// The upgrade script, the first file the table names. Every other
	// file, the per-phone one included, is fetched only when a script
	// says GET (CORRECTIONS claim 2: real scripts end "GET $MACADDR.txt").
	upgrade := m.FirstFiles[0]
	first, err := get(ctx, upgrade)
	if err != nil {
		return outcome{}, fail(StepScript, err)
	}
	step = StepSettings
	interp := script.New(script.FetchFunc(get), script.Options{OnSet: srv.set})
	res, err := interp.Run(ctx, upgrade, first, vars)
	if err != nil {
		return outcome{}, fail(StepSettings, err)
	}
	for _, w := range res.Warnings {
		b.note("script: %s", w)
	}

	// Certificates to trust.
	if err := b.avayaCerts(ctx, srv, res.Vars["TRUSTCERTS"]); err != nil {
		return outcome{}, err
	}

	// Firmware.
	if app := strings.TrimSpace(res.Vars["APPNAME"]); app != "" && !strings.EqualFold(app, b.p.appName) {
		b.p.setStep(StepFirmware)
		var d discard
		if err := b.avayaGet(ctx, srv, app, &d); err != nil {
			return outcome{}, fail(StepFirmware, err)
		}
		return b.install(app, model.FirmwareVersion(app)), nil
	}

	// Backup of the user's settings, as the table says the model does it.
	switch m.Backup {
	case facts.BackupHTTPPut:
		if bruri := strings.TrimSpace(res.Vars["BRURI"]); bruri != "" && m.BackupFile != "" {
			if err := b.avayaBackup(ctx, bruri, res.Vars, params); err != nil {
				return outcome{}, fail(StepBackup, err)
			}
			b.res.Backup = BackupDone
		}
	case facts.BackupFTP:
		// The 4600 stores <ext>_4620data.txt with FTP on FTPSRVR
		// (CORRECTIONS claim 4); phonesim speaks no FTP and phoneprov
		// serves none, so nothing is sent.
		file := fmt.Sprintf(m.BackupFile, b.p.Ext)
		if ftp := strings.TrimSpace(res.Vars["FTPSRVR"]); ftp != "" {
			b.note("backup: would store %s by FTP on %s (FTP not simulated)", file, ftp)
		} else {
			b.note("backup: no FTPSRVR, so no backup of %s (the 4600 backs up by FTP only)", file)
		}
		b.res.Backup = BackupFTPSkipped
	}
	return outcome{state: Provisioned}, nil
}

// avayaGet fetches name: HTTPS from TLSSRVR first, then HTTP from
// HTTPSRVR, then (4600/5600) TFTP from TFTPSRVR. HTTPS that does not
// answer or whose certificate the phone does not trust is skipped for the
// rest of this boot (until TRUSTCERTS are loaded).
func (b *boot) avayaGet(ctx context.Context, srv *avayaServers, name string, w writerReset) error {
	sources := func() []source {
		var out []source
		if !srv.httpsDown && !srv.httpsNoTLS {
			dir := srv.httpDir
			if srv.httpsDirSet {
				dir = srv.httpsDir
			}
			for _, h := range srv.https {
				out = append(out, source{fetch.HTTPS, net.JoinHostPort(h, strconv.Itoa(srv.httpsPort)), dir})
			}
		}
		for _, h := range srv.http {
			out = append(out, source{fetch.HTTP, net.JoinHostPort(h, strconv.Itoa(srv.httpPort)), srv.httpDir})
		}
		if b.p.Model.TFTP {
			for _, h := range srv.tftp {
				out = append(out, source{fetch.TFTP, net.JoinHostPort(h, strconv.Itoa(int(b.env.TFTPPort))), srv.tftpDir})
			}
		}
		return out
	}
	// onError turns HTTPS off for this boot when the server is not
	// trusted or does not answer. Any other HTTPS failure (a handshake
	// that timed out, a reset) leaves HTTPS on, so the next file tries it
	// again: unconfirmed, no source says how a phone treats such a
	// failure, and under overload this choice multiplies handshakes.
	onError := func(s source, err error) {
		if s.proto != fetch.HTTPS {
			return
		}
		switch {
		case errors.Is(err, fetch.ErrUntrusted):
			if !srv.httpsNoTLS {
				b.note("HTTPS %s not trusted (%d certificates loaded): using HTTP", s.server, b.client.Trusted())
			}
			srv.httpsNoTLS = true
		case errors.Is(err, fetch.ErrUnreachable):
			if !srv.httpsDown {
				b.note("HTTPS %s does not answer: using HTTP", s.server)
			}
			srv.httpsDown = true
		}
	}
	return b.getFrom(ctx, name, sources, onError, w)
}

// avayaCerts fetches and loads the TRUSTCERTS files the phone does not
// trust yet. A file the server does not have is noted, not fatal: the
// phone goes on without it.
func (b *boot) avayaCerts(ctx context.Context, srv *avayaServers, list string) error {
	loaded := false
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if _, ok := b.p.trusted[name]; ok {
			continue
		}
		b.p.setStep(StepCerts)
		buf := limited{max: maxTextFile}
		err := b.avayaGet(ctx, srv, name, &buf)
		if errors.Is(err, fetch.ErrNotFound) {
			b.note("TRUSTCERTS %s not found", name)
			continue
		}
		if err != nil {
			return fail(StepCerts, err)
		}
		if err := b.client.Trust(buf.buf); err != nil {
			return failf(StepCerts, "%s: %v", name, err)
		}
		b.p.trusted[name] = buf.buf
		loaded = true
	}
	if loaded {
		// Trusted now: HTTPS gets another chance.
		srv.httpsNoTLS = false
	}
	return nil
}

// avayaBackup restores and then backs up the user's settings under BRURI,
// as a phone does after it registers. Over HTTPS an Authorization header
// (call server address : registration password) goes with the requests
// when no TRUSTCERTS are loaded, or when BRAUTH=1.
func (b *boot) avayaBackup(ctx context.Context, bruri string, vars map[string]string, params avayaopt.Params) error {
	b.p.setStep(StepBackup)
	u, err := url.Parse(bruri)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("BRURI %q is not an http(s) URL", bruri)
	}
	target := strings.TrimSuffix(bruri, "/") + "/" + fmt.Sprintf(b.p.Model.BackupFile, b.p.Ext)
	header := http.Header{}
	if u.Scheme == "https" && (b.client.Trusted() == 0 || strings.TrimSpace(vars["BRAUTH"]) == "1") {
		callServer := b.lease.ServerID.String()
		if cs := params.List("MCIPADD"); len(cs) > 0 {
			callServer = cs[0]
		} else if cs := splitList(vars["MCIPADD"]); len(cs) > 0 {
			callServer = cs[0]
		}
		header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(callServer+":"+b.p.Password)))
	}
	// Restore first: a phone that has a backup reads it back. Both are
	// tried FetchTries times with back-off, as a phone tries again later.
	restore := func() error {
		var old limited
		old.max = maxTextFile
		_, err := b.client.GetURL(ctx, target, header, &old)
		if errors.Is(err, fetch.ErrNotFound) {
			return nil
		}
		return err
	}
	if err := b.retry(ctx, restore); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return b.retry(ctx, func() error {
		_, err := b.client.Put(ctx, target, header, b.backupContent())
		return err
	})
}

// retry runs op up to FetchTries times, waiting FetchBackoff (doubling)
// between tries.
func (b *boot) retry(ctx context.Context, op func() error) error {
	wait := b.env.capWait(b.env.FetchBackoff)
	var err error
	for try := 1; try <= b.env.FetchTries; try++ {
		if err = op(); err == nil || ctx.Err() != nil {
			return err
		}
		if try < b.env.FetchTries {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait = b.env.capWait(wait * 2)
		}
	}
	return fmt.Errorf("after %d tries: %w", b.env.FetchTries, err)
}

// backupContent is the user-settings file: name=value lines. The file's
// content and encoding are not in the fact table (the 1600's UTF-16 is
// unconfirmed and no longer simulated): plain ASCII.
func (b *boot) backupContent() []byte {
	return fmt.Appendf(nil, "SPEAKERSTAT=2\r\nCONTRAST=5\r\nRINGTONE=3\r\nEXT=%s\r\n", b.p.Ext)
}

func splitList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
