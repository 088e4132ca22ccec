package phone

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/fetch"
	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/model"
)

// cisco is one boot of a Cisco SCCP (79xx) phone: TFTP only, servers from
// option 150 (a list of addresses, unconfirmed in the fact table) or
// option 66. It asks for the first files the table names (CTLSEP<MAC>.tlv,
// ITLSEP<MAC>.tlv, SEP<MAC>.cnf.xml); the trust lists are optional, the
// configuration decides between provisioned and kept. The table names no
// fallback file (XMLDefault.cnf.xml) and no firmware file, so none is
// asked for.
func (b *boot) cisco(ctx context.Context) (outcome, error) {
	var servers []string
	if raw := b.lease.Options[150]; len(raw) >= 4 && b.p.Model.Reads(150) {
		for i := 0; i+4 <= len(raw); i += 4 {
			servers = append(servers, netip.AddrFrom4([4]byte(raw[i:i+4])).String())
		}
	} else if raw := strings.TrimRight(string(b.lease.Options[66]), "\x00"); raw != "" && b.p.Model.Reads(66) {
		servers = splitList(raw)
	}
	if len(servers) == 0 {
		return outcome{}, failf(StepDHCP, "no TFTP server: the reply had no option 150 or 66")
	}
	sources := func() []source {
		out := make([]source, len(servers))
		for i, s := range servers {
			out[i] = source{fetch.TFTP, net.JoinHostPort(s, strconv.Itoa(int(b.env.TFTPPort))), ""}
		}
		return out
	}
	get := func(name string, w writerReset) error { return b.getFrom(ctx, name, sources, nil, w) }

	b.p.setStep(StepScript)
	found := false // the last file, the configuration, came
	for i, pattern := range b.p.Model.FirstFiles {
		name := model.FileName(pattern, b.p.MAC)
		buf := limited{max: maxTextFile}
		err := get(name, &buf)
		last := i == len(b.p.Model.FirstFiles)-1
		switch {
		case err == nil:
			found = found || last
		case errors.Is(err, fetch.ErrNotFound):
			if last {
				b.note("no %s: the phone keeps its configuration", name)
			}
		default:
			return outcome{}, fail(StepScript, err)
		}
	}
	if !found {
		return outcome{state: Kept}, nil
	}
	return outcome{state: Provisioned}, nil
}

// files is one boot of a phone that asks for the first files the fact
// table names (Polycom, Yealink, snom, Grandstream, Aastra/Mitel SIP,
// Cisco MPP) from the server the options it reads name. Each file is
// asked for in the table's order; one the server does not have is
// skipped. The phone is provisioned when any came, keeps its own
// configuration when none did.
func (b *boot) files(ctx context.Context) (outcome, error) {
	raw, code := b.serverOption()
	if raw == "" {
		return outcome{}, failf(StepDHCP, "no provisioning server: the reply had none of options %v", b.p.Model.OptionsRead)
	}
	src, err := serverSource(raw, b.env.TFTPPort)
	if err != nil {
		return outcome{}, failf(StepDHCP, "option %d: %v", code, err)
	}
	sources := func() []source { return []source{src} }
	b.p.setStep(StepScript)
	got := 0
	for _, pattern := range b.p.Model.FirstFiles {
		name := strings.TrimPrefix(model.FileName(pattern, b.p.MAC), "/")
		buf := limited{max: maxTextFile}
		err := b.getFrom(ctx, name, sources, nil, &buf)
		switch {
		case err == nil:
			got++
		case errors.Is(err, fetch.ErrNotFound):
			b.note("%s not found", name)
		default:
			return outcome{}, fail(StepScript, err)
		}
	}
	if got == 0 {
		b.note("none of %v on %s: the phone keeps its configuration", b.p.Model.FirstFiles, src)
		return outcome{state: Kept}, nil
	}
	return outcome{state: Provisioned}, nil
}

// serverOption is the first option the table says the phone reads that
// names a server: option 43 sub-option 2 for Aastra/Mitel SIP phones
// (cfg-server-name, a URL), else the option itself as text (66, 160).
// Options whose format the table does not give (Grandstream's 43) are
// passed over.
func (b *boot) serverOption() (string, int) {
	for _, code := range b.p.Model.OptionsRead {
		raw, ok := b.lease.Options[uint8(code)]
		if !ok {
			continue
		}
		switch {
		case code == 43 && b.p.Model.Family == model.MitelSIP:
			if v, ok := subOption(raw, 2); ok {
				return strings.TrimRight(string(v), "\x00"), code
			}
		case code == 66 || code == 160:
			if v := strings.TrimRight(string(raw), "\x00"); v != "" {
				return v, code
			}
		}
	}
	return "", 0
}

// subOption finds sub-option code in a code-length-value list (option 43).
func subOption(raw []byte, code byte) ([]byte, bool) {
	for i := 0; i+2 <= len(raw); {
		c, n := raw[i], int(raw[i+1])
		if c == 0 {
			i++
			continue
		}
		if c == 255 || i+2+n > len(raw) {
			return nil, false
		}
		if c == code {
			return raw[i+2 : i+2+n], true
		}
		i += 2 + n
	}
	return nil, false
}

// serverSource reads a server option: a URL names its protocol, host, port
// and folder; a bare host or address means TFTP (RFC 2132 option 66).
func serverSource(raw string, tftpPort uint16) (source, error) {
	if !strings.Contains(raw, "://") {
		if strings.ContainsAny(raw, "/ ") {
			return source{}, fmt.Errorf("server %q is neither a URL nor a host", raw)
		}
		return source{fetch.TFTP, net.JoinHostPort(raw, strconv.Itoa(int(tftpPort))), ""}, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return source{}, fmt.Errorf("server %q is not a URL", raw)
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
	return source{}, fmt.Errorf("server %q: scheme %s not simulated", raw, u.Scheme)
}

// minet is one boot of a Mitel MiNet set: it reads the
// id:ipphone.mitel.com;tag=value;… string from option 43 or 125 (Mitel
// 3300 ICP Engineering Guidelines p.243-244; later tags overwrite earlier
// ones) and is done when it names sw_tftp. The table names no file a
// MiNet set asks for, so it fetches none.
func (b *boot) minet() (outcome, error) {
	for _, code := range b.p.Model.OptionsRead {
		raw, ok := b.lease.Options[uint8(code)]
		if !ok {
			continue
		}
		// Option 125 wraps the string in RFC 3925 fields whose layout
		// the table does not give: look for the string wherever it is.
		s := string(raw)
		i := strings.Index(s, "id:ipphone.mitel.com;")
		if i < 0 {
			continue
		}
		tags := map[string]string{}
		for _, kv := range strings.Split(s[i+len("id:ipphone.mitel.com;"):], ";") {
			if k, v, ok := strings.Cut(strings.TrimRight(kv, "\x00"), "="); ok {
				tags[k] = v
			}
		}
		if tags["sw_tftp"] == "" {
			return outcome{}, failf(StepDHCP, "option %d: the Mitel string names no sw_tftp", code)
		}
		b.note("option %d: sw_tftp=%s call_srv=%s", code, tags["sw_tftp"], tags["call_srv"])
		return outcome{state: Provisioned}, nil
	}
	return outcome{}, failf(StepDHCP, "no id:ipphone.mitel.com string in options %v", b.p.Model.OptionsRead)
}
