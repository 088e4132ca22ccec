package dhcpopts

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Vars are what option templates may refer to. The DHCP server fills them per
// receiving interface, so one configuration serves every network the box is on.
//
// The template variables:
//
//	${server}       ServerIP: this box's IPv4 address on the client's network
//	${servers}      this box's address then its DHCP partner's (Partner), comma
//	                separated, for settings that take a list of file servers;
//	                ${server} alone when the box has no partner
//	${server_name}  ServerName: a DNS name for this box (for TLS server names)
//	${http_port}    HTTPPort: the file server's HTTP port
//	${https_port}   HTTPSPort: its HTTPS port
//	${tls_port}     TLSPort: the port Avaya phones use for TLS (TLSPORT), often
//	                the HTTPS port; 411 on some 96x1 H.323 firmware
//	${tftp_port}    TFTPPort: the TFTP port
//
// "$$" writes a literal "$"; a "$" not followed by "{" or "$" is literal too.
// A variable that is not set (zero port, invalid address, empty name) makes
// Encode fail with an error naming it.
type Vars struct {
	ServerIP netip.Addr
	// Partner is the address of the other box of a DHCP pair ([dhcp.ha]),
	// which serves the same files; invalid without a pair.
	Partner    netip.Addr
	ServerName string
	HTTPPort   int
	HTTPSPort  int
	TLSPort    int
	TFTPPort   int
}

// variable is one name a template may use.
type variable struct {
	name  string
	about string // what is missing when it is not set
	value func(v *Vars) (string, bool)
}

func portVar(name, about string, get func(v *Vars) int) variable {
	return variable{name, about, func(v *Vars) (string, bool) {
		p := get(v)
		if p < 1 || p > 65535 {
			return "", false
		}
		return strconv.Itoa(p), true
	}}
}

var variables = []variable{
	{"server", "this box's IPv4 address on the client's network", func(v *Vars) (string, bool) {
		if !v.ServerIP.Is4() {
			return "", false
		}
		return v.ServerIP.String(), true
	}},
	{"servers", "this box's IPv4 address on the client's network", func(v *Vars) (string, bool) {
		if !v.ServerIP.Is4() {
			return "", false
		}
		if v.Partner.Is4() && v.Partner != v.ServerIP {
			return v.ServerIP.String() + "," + v.Partner.String(), true
		}
		return v.ServerIP.String(), true
	}},
	{"server_name", "the box's DNS name", func(v *Vars) (string, bool) {
		return v.ServerName, v.ServerName != ""
	}},
	portVar("http_port", "the HTTP port (is HTTP enabled?)", func(v *Vars) int { return v.HTTPPort }),
	portVar("https_port", "the HTTPS port (is HTTPS enabled?)", func(v *Vars) int { return v.HTTPSPort }),
	portVar("tls_port", "the TLS port (is HTTPS enabled?)", func(v *Vars) int { return v.TLSPort }),
	portVar("tftp_port", "the TFTP port (is TFTP enabled?)", func(v *Vars) int { return v.TFTPPort }),
}

// VariableNames lists the names templates may use, without "${}".
func VariableNames() []string {
	out := make([]string, len(variables))
	for i, v := range variables {
		out[i] = v.name
	}
	return out
}

// probeVars fill every variable with a plausible value, to check at load time
// that a template expands to something its type accepts.
var probeVars = Vars{
	ServerIP:   netip.AddrFrom4([4]byte{198, 18, 0, 1}),
	ServerName: "phoneprov.example",
	HTTPPort:   80, HTTPSPort: 443, TLSPort: 411, TFTPPort: 69,
}

// template is a string with ${var} references, parsed once.
type template struct {
	raw   string
	parts []part
}

// part is literal text, or a variable when v is non-nil.
type part struct {
	text string
	v    *variable
}

// parseTemplate splits s into literal text and variables, refusing unknown
// or unterminated references.
func parseTemplate(s string) (template, error) {
	t := template{raw: s}
	var lit strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 >= len(s) || (s[i+1] != '{' && s[i+1] != '$') {
			lit.WriteByte(c)
			i++
			continue
		}
		if s[i+1] == '$' {
			lit.WriteByte('$')
			i += 2
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return template{}, fmt.Errorf("unterminated \"${\" in %q", s)
		}
		name := s[i+2 : i+2+end]
		v := findVariable(name)
		if v == nil {
			return template{}, fmt.Errorf("unknown variable ${%s} in %q (known: ${%s})", name, s, strings.Join(VariableNames(), "}, ${"))
		}
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{text: lit.String()})
			lit.Reset()
		}
		t.parts = append(t.parts, part{v: v})
		i += 2 + end + 1
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, part{text: lit.String()})
	}
	return t, nil
}

func findVariable(name string) *variable {
	for i := range variables {
		if variables[i].name == name {
			return &variables[i]
		}
	}
	return nil
}

// usesVars reports whether expanding t depends on Vars.
func (t template) usesVars() bool {
	for _, p := range t.parts {
		if p.v != nil {
			return true
		}
	}
	return false
}

// expand fills in the variables.
func (t template) expand(vars *Vars) (string, error) {
	if len(t.parts) == 1 && t.parts[0].v == nil {
		return t.parts[0].text, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.v == nil {
			b.WriteString(p.text)
			continue
		}
		val, ok := p.v.value(vars)
		if !ok {
			return "", fmt.Errorf("${%s} is not available: %s is not set", p.v.name, p.v.about)
		}
		b.WriteString(val)
	}
	return b.String(), nil
}
