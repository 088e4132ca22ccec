package fileserve

import (
	"net/http"
	"strings"
	"time"
)

// requestConditions are the request headers (each one's first value) that
// decide between sending content, 304 Not Modified and 412 Precondition
// Failed for a GET or HEAD.
type requestConditions struct {
	ifMatch, ifNoneMatch, ifModifiedSince, ifUnmodifiedSince string
}

// evaluate returns 0 to send the content, or http.StatusNotModified or
// http.StatusPreconditionFailed. It follows RFC 9110 section 13.2.2 in
// exactly the steps net/http's ServeContent takes (checkPreconditions in
// net/http/fs.go), so both answer every request alike; a test compares
// them.
func (c requestConditions) evaluate(etag string, mod time.Time) int {
	ch := checkETagList(c.ifMatch, etag, false, condTrue, condFalse)
	if ch == condNone {
		ch = checkIfUnmodifiedSince(c.ifUnmodifiedSince, mod)
	}
	if ch == condFalse {
		return http.StatusPreconditionFailed
	}
	switch checkETagList(c.ifNoneMatch, etag, true, condFalse, condTrue) {
	case condFalse:
		return http.StatusNotModified
	case condNone:
		if checkIfModifiedSince(c.ifModifiedSince, mod) == condFalse {
			return http.StatusNotModified
		}
	}
	return 0
}

type condResult int

const (
	condNone condResult = iota
	condTrue
	condFalse
)

// checkETagList is condNone when the header (If-Match or If-None-Match)
// is absent, listed when it holds etag or "*", else unlisted.
func checkETagList(list, etag string, weak bool, listed, unlisted condResult) condResult {
	switch {
	case list == "":
		return condNone
	case listMatches(list, etag, weak):
		return listed
	}
	return unlisted
}

// listMatches reports whether an If-Match (strong comparison) or
// If-None-Match (weak) list holds "*" or etag before its end or its first
// malformed tag.
func listMatches(list, etag string, weak bool) bool {
	for {
		list = trimHeaderSpace(list)
		switch {
		case len(list) == 0:
			return false
		case list[0] == ',':
			list = list[1:]
			continue
		case list[0] == '*':
			return true
		}
		tag, remain := scanETag(list)
		if tag == "" {
			return false
		}
		if weak && strings.TrimPrefix(tag, "W/") == strings.TrimPrefix(etag, "W/") || !weak && tag == etag && tag[0] == '"' {
			return true
		}
		list = remain
	}
}

func checkIfUnmodifiedSince(ius string, mod time.Time) condResult {
	return notModifiedSince(ius, mod, condTrue, condFalse)
}

func checkIfModifiedSince(ims string, mod time.Time) condResult {
	return notModifiedSince(ims, mod, condFalse, condTrue)
}

// notModifiedSince compares mod with the date in header: ifNot when mod
// is not after it, ifAfter when it is, condNone when either is unknown.
func notModifiedSince(header string, mod time.Time, ifNot, ifAfter condResult) condResult {
	if header == "" || isZeroTime(mod) {
		return condNone
	}
	t, err := http.ParseTime(header)
	if err != nil {
		return condNone
	}
	// Last-Modified has whole seconds, so the comparison has too.
	if mod.Truncate(time.Second).Compare(t) <= 0 {
		return ifNot
	}
	return ifAfter
}

// scanETag finds a syntactically valid entity tag at the start of s and
// returns it and the rest, or "", "".
func scanETag(s string) (etag string, remain string) {
	s = trimHeaderSpace(s)
	start := 0
	if strings.HasPrefix(s, "W/") {
		start = 2
	}
	if len(s[start:]) < 2 || s[start] != '"' {
		return "", ""
	}
	for i := start + 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0x21 || c >= 0x23 && c <= 0x7E || c >= 0x80:
		case c == '"':
			return s[:i+1], s[i+1:]
		default:
			return "", ""
		}
	}
	return "", ""
}

// trimHeaderSpace trims what net/textproto.TrimString does: ASCII space,
// tab, CR and LF.
func trimHeaderSpace(s string) string {
	for len(s) > 0 && isHeaderSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isHeaderSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isHeaderSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }
