// Package h1 reads the heads of the plain HTTP/1.1 GET and HEAD requests
// that phones send, without allocating.
//
// It accepts only what it understands completely and what net/http
// would accept with the same meaning (but for the control bytes some
// phones put in their User-Agent, see agentControlByte): a GET or HEAD of an origin-form
// path made of unreserved characters (no %-escapes, no query), HTTP/1.1,
// exactly one Host, lines ending in CRLF, no folded lines, no body, and
// none of Range, If-Range, Expect, Upgrade, Content-Length or
// Transfer-Encoding. For anything else Parse returns Other and the
// caller passes the bytes on to net/http, which answers (or refuses) as
// it always does.
package h1

import "bytes"

// Result is what Parse found.
type Result int

// The results of Parse.
const (
	Incomplete Result = iota // no whole head yet; read more
	OK                       // a simple GET or HEAD, described in the Request
	Other                    // anything else: let net/http have it
)

// Method is a request method Parse accepts.
type Method uint8

// The methods Parse accepts.
const (
	GET Method = iota + 1
	HEAD
)

// Request is a parsed request head. Its slices point into the buffer
// given to Parse and are valid as long as it is.
type Request struct {
	Len    int // bytes the head takes, its final empty line included
	Method Method
	Path   []byte // as sent: starts with '/', no escapes, no query

	// The first value of each of these headers, trimmed of spaces and
	// tabs as net/http trims them; nil when absent.
	UserAgent, IfMatch, IfNoneMatch, IfModifiedSince, IfUnmodifiedSince []byte

	// Close is set when a Connection header has the token "close".
	Close bool
}

// Parse reads the request head at the start of b into r.
func Parse(b []byte, r *Request) Result {
	*r = Request{}
	line, rest, res := nextLine(b)
	if res != OK {
		return res
	}
	if res := r.parseRequestLine(line); res != OK {
		return res
	}
	hosts := 0
	for {
		line, rest, res = nextLine(rest)
		if res != OK {
			return res
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := splitField(line)
		if !ok {
			return Other
		}
		switch len(name) {
		case 4:
			if equalFold(name, "host") {
				hosts++
				if hosts > 1 || !validHost(value) {
					return Other
				}
			}
		case 5, 6, 7:
			if equalFold(name, "range") || equalFold(name, "expect") || equalFold(name, "upgrade") {
				return Other
			}
		case 8:
			if equalFold(name, "if-match") {
				first(&r.IfMatch, value)
			} else if equalFold(name, "if-range") {
				return Other
			}
		case 10:
			if equalFold(name, "user-agent") {
				first(&r.UserAgent, value)
			} else if equalFold(name, "connection") {
				r.Close = r.Close || hasToken(value, "close")
			}
		case 13:
			if equalFold(name, "if-none-match") {
				first(&r.IfNoneMatch, value)
			}
		case 14:
			if equalFold(name, "content-length") {
				return Other
			}
		case 17:
			if equalFold(name, "if-modified-since") {
				first(&r.IfModifiedSince, value)
			} else if equalFold(name, "transfer-encoding") {
				return Other
			}
		case 19:
			if equalFold(name, "if-unmodified-since") {
				first(&r.IfUnmodifiedSince, value)
			}
		}
	}
	if hosts != 1 {
		return Other
	}
	r.Len = len(b) - len(rest)
	return OK
}

// nextLine splits off the first CRLF-terminated line. A bare CR or LF is
// Other; a line without its end yet is Incomplete.
func nextLine(b []byte) (line, rest []byte, res Result) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		if bytes.IndexByte(b, '\r') >= 0 && b[len(b)-1] != '\r' {
			return nil, nil, Other // a CR not followed by LF
		}
		return nil, nil, Incomplete
	}
	if i == 0 || b[i-1] != '\r' {
		return nil, nil, Other // a bare LF
	}
	line = b[:i-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, nil, Other
	}
	return line, b[i+1:], OK
}

func (r *Request) parseRequestLine(line []byte) Result {
	switch {
	case bytes.HasPrefix(line, []byte("GET ")):
		r.Method, line = GET, line[4:]
	case bytes.HasPrefix(line, []byte("HEAD ")):
		r.Method, line = HEAD, line[5:]
	default:
		return Other
	}
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || string(line[sp+1:]) != "HTTP/1.1" {
		return Other
	}
	path := line[:sp]
	if path[0] != '/' {
		return Other
	}
	for _, c := range path {
		if !pathByte[c] {
			return Other
		}
	}
	r.Path = path
	return OK
}

// splitField splits a header line into its name and trimmed value, and
// checks both as net/textproto does.
func splitField(line []byte) (name, value []byte, ok bool) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil, nil, false
	}
	name = line[:colon]
	for _, c := range name {
		if !tokenByte[c] {
			return nil, nil, false // a space before the colon, a folded line, a stray byte
		}
	}
	value = line[colon+1:]
	agent := equalFold(name, "user-agent")
	for _, c := range value {
		if !valueByte(c) && !(agent && agentControlByte(c)) {
			return nil, nil, false
		}
	}
	return name, trim(value), true
}

// agentControlByte is a control byte that a phone's User-Agent may carry,
// which net/http refuses with 400: Avaya 1200-series SIP phones send
// "AVAYA/SIP12x0\x17/04.00.04.00" and the like, with \x14, \x16 or \x17
// between model and version (wazo-platform/wazo-provd-plugins
// plugins/wazo_avaya/common/common.py; testdata/phones/avaya.toml). NUL, CR
// and LF never pass.
func agentControlByte(c byte) bool { return c < 0x20 && c != 0 && c != '\r' && c != '\n' }

func first(dst *[]byte, value []byte) {
	if *dst == nil {
		*dst = value[:len(value):len(value)]
	}
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// hasToken reports whether the comma-separated list v has token t
// (lower case), ignoring case.
func hasToken(v []byte, t string) bool {
	for len(v) > 0 {
		var item []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			item, v = v, nil
		}
		if equalFold(trim(item), t) {
			return true
		}
	}
	return false
}

// equalFold compares b with the lower-case ASCII string s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func validHost(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	for _, c := range v {
		if !hostByte[c] {
			return false
		}
	}
	return true
}

// valueByte is net/textproto's rule for header values: visible ASCII,
// space, tab and obs-text.
func valueByte(c byte) bool { return c == '\t' || c >= 0x20 && c != 0x7f }

// Byte classes, built once; never written after.
var (
	tokenByte = byteSet("!#$%&'*+-.^_`|~")    // RFC 9110 tchar
	pathByte  = byteSet("-._~!$&'()*+,;=:@/") // pchar without %-escapes, and '/'
	hostByte  = byteSet("-._:[]")             // names, IPv4 and bracketed IPv6, with a port
)

func byteSet(extra string) (set [256]bool) {
	for c := '0'; c <= '9'; c++ {
		set[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		set[c] = true
		set[c-'a'+'A'] = true
	}
	for i := range len(extra) {
		set[extra[i]] = true
	}
	return set
}
