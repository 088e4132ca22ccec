package config

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"unicode"
)

// Admin is the [admin] section: the admin listener's address and token
// (cmd/phoneprov/internal/admin serves it).
type Admin struct {
	// Listen is host:port; empty switches the listener off.
	Listen string `toml:"listen"`
	// Token, when set, is asked of every request but the health probes:
	// as "Authorization: Bearer TOKEN", or, from a browser, once as
	// /?token=TOKEN, which sets a session cookie. The API never takes it
	// in the address. It is required when Listen is not a loopback address.
	Token Secret `toml:"token,omitempty"`
}

// Secret is a string that prints as "(hidden)", so `phoneprov check` and
// logs do not give it away. string(s) is the value.
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "(hidden)"
}

// MarshalText hides the value when the configuration is printed. (There
// is no UnmarshalText: the TOML decoder then reads a Secret as the string
// it is, and refuses a number or a table in its place.)
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// minTokenLen keeps tokens out of guessing range; 16 random characters
// are far beyond it.
const minTokenLen = 16

// DefaultAdmin listens on loopback only, with no token.
func DefaultAdmin() Admin { return Admin{Listen: "127.0.0.1:9167"} }

// Validate reports problems keyed relative to [admin].
func (c Admin) Validate(report func(key string, err error)) {
	if c.Token != "" {
		tok := string(c.Token)
		switch {
		case len(tok) < minTokenLen:
			report("token", fmt.Errorf("is %d characters; use at least %d (make one with: openssl rand -hex 16)", len(tok), minTokenLen))
		case strings.IndexFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			report("token", errors.New("must not contain spaces or control characters"))
		}
	}
	if c.Listen == "" {
		return
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		report("listen", fmt.Errorf("%q is not host:port", c.Listen))
		return
	}
	ip := net.ParseIP(host)
	if host == "" || ip == nil {
		report("listen", fmt.Errorf("%q: give an IP address (127.0.0.1 keeps it on this box)", c.Listen))
		return
	}
	if !ip.IsLoopback() && c.Token == "" {
		report("token", fmt.Errorf("required because admin.listen %q is reachable from other hosts: set a token of at least %d characters "+
			"(make one with: openssl rand -hex 16), or listen on 127.0.0.1", c.Listen, minTokenLen))
	}
}

// Authorize adds the token, when there is one, to a request for the admin
// listener, for the commands that ask the running appliance.
func (c Admin) Authorize(r *http.Request) {
	if c.Token != "" {
		r.Header.Set("Authorization", "Bearer "+string(c.Token))
	}
}
