package phone

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/fetch"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/model"
)

// cisco is one boot of a Cisco phone: TFTP only, servers from option 150
// (a list of addresses), else option 66, else siaddr. It asks for its
// certificate trust lists (CTL, ITL), then SEP<MAC>.cnf.xml, falling back
// to XMLDefault.cnf.xml; a configuration naming another load than the one
// it runs makes it fetch <load>.loads and restart.
func (b *boot) cisco(ctx context.Context) (outcome, error) {
	var servers []string
	if raw := b.lease.Options[150]; len(raw) >= 4 {
		for i := 0; i+4 <= len(raw); i += 4 {
			servers = append(servers, netip.AddrFrom4([4]byte(raw[i:i+4])).String())
		}
	} else if raw := strings.TrimRight(string(b.lease.Options[66]), "\x00"); raw != "" {
		servers = splitList(raw)
	} else if ns := b.lease.NextServer; ns.IsValid() {
		servers = []string{ns.String()}
	}
	if len(servers) == 0 {
		return outcome{}, failf(StepDHCP, "no TFTP server: the reply had no option 150, no option 66 and no siaddr")
	}
	sources := func() []source {
		out := make([]source, len(servers))
		for i, s := range servers {
			out[i] = source{fetch.TFTP, net.JoinHostPort(s, strconv.Itoa(int(b.env.TFTPPort))), ""}
		}
		return out
	}
	sep := "SEP" + strings.ToUpper(model.MACHex(b.p.MAC))
	get := func(name string, w writerReset) error { return b.getFrom(ctx, name, sources, nil, w) }

	b.p.setStep(StepScript)
	for _, tl := range []string{"CTL" + sep + ".tlv", "ITL" + sep + ".tlv"} {
		buf := limited{max: maxTextFile}
		if err := get(tl, &buf); err != nil && !errors.Is(err, fetch.ErrNotFound) {
			return outcome{}, fail(StepScript, err)
		}
	}
	var cnf limited
	cnf.max = maxTextFile
	err := get(sep+".cnf.xml", &cnf)
	if errors.Is(err, fetch.ErrNotFound) {
		err = get("XMLDefault.cnf.xml", &cnf)
	}
	if errors.Is(err, fetch.ErrNotFound) {
		b.note("no SEP<MAC>.cnf.xml and no XMLDefault.cnf.xml: the phone keeps its configuration")
		return outcome{state: Kept}, nil
	}
	if err != nil {
		return outcome{}, fail(StepScript, err)
	}
	load := ciscoLoad(cnf.buf)
	if load == "" || strings.EqualFold(load, b.p.appName) {
		return outcome{state: Provisioned}, nil
	}
	b.p.setStep(StepFirmware)
	var d discard
	if err := get(load+".loads", &d); err != nil {
		return outcome{}, fail(StepFirmware, err)
	}
	return b.install(load, load), nil
}

var loadInformation = regexp.MustCompile(`(?is)<loadInformation[^>]*>\s*([^<\s]*)\s*</loadInformation>`)

// ciscoLoad is the firmware load a Cisco configuration names, or "".
func ciscoLoad(cnf []byte) string {
	if m := loadInformation.FindSubmatch(cnf); m != nil {
		return string(m[1])
	}
	return ""
}

// polycom is one boot of a Polycom phone: the provisioning URL from option
// 160, else 66 (a bare address means HTTP), then <mac>.cfg, falling back
// to the master configuration 000000000000.cfg, and the CONFIG_FILES it
// lists. Polycom firmware (sip.ld) carries its version inside the file,
// which phonesim does not read: it fetches no firmware for these phones.
func (b *boot) polycom(ctx context.Context) (outcome, error) {
	raw := strings.TrimRight(string(b.lease.Options[160]), "\x00")
	if raw == "" {
		raw = strings.TrimRight(string(b.lease.Options[66]), "\x00")
	}
	if raw == "" {
		return outcome{}, failf(StepDHCP, "no provisioning server: the reply had no option 160 or 66")
	}
	src, err := polycomSource(raw, b.env.TFTPPort)
	if err != nil {
		return outcome{}, fail(StepDHCP, err)
	}
	sources := func() []source { return []source{src} }
	get := func(name string, w writerReset) error { return b.getFrom(ctx, name, sources, nil, w) }

	b.p.setStep(StepScript)
	mac := model.MACHex(b.p.MAC)
	var master limited
	master.max = maxTextFile
	err = get(mac+".cfg", &master)
	if errors.Is(err, fetch.ErrNotFound) {
		err = get("000000000000.cfg", &master)
	}
	if errors.Is(err, fetch.ErrNotFound) {
		b.note("no <mac>.cfg and no 000000000000.cfg: the phone keeps its configuration")
		return outcome{state: Kept}, nil
	}
	if err != nil {
		return outcome{}, fail(StepScript, err)
	}
	app, err := polycomApplication(master.buf)
	if err != nil {
		return outcome{}, fail(StepScript, err)
	}
	b.p.setStep(StepSettings)
	for _, f := range splitList(app.ConfigFiles) {
		f = strings.ReplaceAll(f, "[PHONE_MAC_ADDRESS]", mac)
		buf := limited{max: maxTextFile}
		if err := get(f, &buf); err != nil {
			if errors.Is(err, fetch.ErrNotFound) {
				b.note("CONFIG_FILES %s not found", f)
				continue
			}
			return outcome{}, fail(StepSettings, err)
		}
	}
	return outcome{state: Provisioned}, nil
}

// polycomApp is the APPLICATION element of a Polycom master configuration.
type polycomApp struct {
	AppFilePath string
	ConfigFiles string
}

// polycomApplication finds the APPLICATION element, wherever it is.
func polycomApplication(b []byte) (polycomApp, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return polycomApp{}, errors.New("master configuration: no APPLICATION element")
		}
		if err != nil {
			return polycomApp{}, fmt.Errorf("master configuration: %w", err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || !strings.EqualFold(se.Name.Local, "APPLICATION") {
			continue
		}
		var app polycomApp
		for _, a := range se.Attr {
			switch strings.ToUpper(a.Name.Local) {
			case "APP_FILE_PATH":
				app.AppFilePath = a.Value
			case "CONFIG_FILES":
				app.ConfigFiles = a.Value
			}
		}
		return app, nil
	}
}

// polycomSource reads the provisioning server from option 160/66.
func polycomSource(raw string, tftpPort uint16) (source, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return source{}, fmt.Errorf("provisioning server %q is not a URL or address", raw)
	}
	host, port := u.Hostname(), u.Port()
	switch u.Scheme {
	case "http":
		if port == "" {
			port = "80"
		}
		return source{fetch.HTTP, net.JoinHostPort(host, port), u.Path}, nil
	case "https":
		if port == "" {
			port = "443"
		}
		return source{fetch.HTTPS, net.JoinHostPort(host, port), u.Path}, nil
	case "tftp":
		if port == "" {
			port = strconv.Itoa(int(tftpPort))
		}
		return source{fetch.TFTP, net.JoinHostPort(host, port), u.Path}, nil
	}
	return source{}, fmt.Errorf("provisioning server %q: scheme %s not simulated", raw, u.Scheme)
}
