package fileserve

import (
	"bytes"
	"io"
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
	ch := c.checkIfMatch(etag)
	if ch == condNone {
		ch = checkIfUnmodifiedSince(c.ifUnmodifiedSince, mod)
	}
	if ch == condFalse {
		return http.StatusPreconditionFailed
	}
	switch c.checkIfNoneMatch(etag) {
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

func (c requestConditions) checkIfMatch(etag string) condResult {
	im := c.ifMatch
	if im == "" {
		return condNone
	}
	for {
		im = trimHeaderSpace(im)
		if len(im) == 0 {
			break
		}
		if im[0] == ',' {
			im = im[1:]
			continue
		}
		if im[0] == '*' {
			return condTrue
		}
		tag, remain := scanETag(im)
		if tag == "" {
			break
		}
		if tag == etag && tag[0] == '"' { // strong comparison
			return condTrue
		}
		im = remain
	}
	return condFalse
}

func (c requestConditions) checkIfNoneMatch(etag string) condResult {
	buf := c.ifNoneMatch
	if buf == "" {
		return condNone
	}
	for {
		buf = trimHeaderSpace(buf)
		if len(buf) == 0 {
			break
		}
		if buf[0] == ',' {
			buf = buf[1:]
			continue
		}
		if buf[0] == '*' {
			return condFalse
		}
		tag, remain := scanETag(buf)
		if tag == "" {
			break
		}
		if strings.TrimPrefix(tag, "W/") == strings.TrimPrefix(etag, "W/") { // weak comparison
			return condFalse
		}
		buf = remain
	}
	return condTrue
}

func checkIfUnmodifiedSince(ius string, mod time.Time) condResult {
	if ius == "" || isZeroTime(mod) {
		return condNone
	}
	t, err := http.ParseTime(ius)
	if err != nil {
		return condNone
	}
	// Last-Modified has whole seconds, so the comparison has too.
	if mod.Truncate(time.Second).Compare(t) <= 0 {
		return condTrue
	}
	return condFalse
}

func checkIfModifiedSince(ims string, mod time.Time) condResult {
	if ims == "" || isZeroTime(mod) {
		return condNone
	}
	t, err := http.ParseTime(ims)
	if err != nil {
		return condNone
	}
	if mod.Truncate(time.Second).Compare(t) <= 0 {
		return condFalse
	}
	return condTrue
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

func bytesReader(b []byte) io.ReadSeeker { return bytes.NewReader(b) }
