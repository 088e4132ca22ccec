package fileserve

import (
	"strconv"
	"time"
)

// Admitter decides whether a download may start now, so the appliance can
// cap concurrent firmware downloads (a power cut must not make every phone
// pull its image over one link at once). The file server asks it after a
// name has resolved and before any byte of a GET (HTTP, HTTPS) or a TFTP
// read is sent; a HEAD sends no content and is not asked about.
//
// name is the canonical name the request resolved to. When ok is true the
// download goes ahead, and release, when not nil, is called once it has
// ended (sent, failed or abandoned). When ok is false the client is told
// to come back later without being given anything else: HTTP 503 with
// Retry-After (retryAfter rounded up to whole seconds, at least 1), or
// TFTP error 0 "server busy". Admit is called concurrently and should
// not allocate for names it does not care about: it sits on every
// request's path.
type Admitter interface {
	Admit(name string, c Client) (release func(), retryAfter time.Duration, ok bool)
}

// admit asks the configured Admitter, if any.
func (s *Server) admit(name string, c Client) (release func(), retryAfter time.Duration, ok bool) {
	if s.opts.Admitter == nil {
		return nil, 0, true
	}
	return s.opts.Admitter.Admit(name, c)
}

// refusedBusy is the access event's Detail for a download the Admitter
// turned away.
const refusedBusy = "busy: download cap reached"

// retryAfterSeconds is d as a Retry-After value: whole seconds, rounded
// up, at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// appendRetryAfter appends the Retry-After header line.
func appendRetryAfter(b []byte, d time.Duration) []byte {
	b = append(b, "Retry-After: "...)
	b = strconv.AppendInt(b, retryAfterSeconds(d), 10)
	return append(b, "\r\n"...)
}

// name is the canonical name the request resolved to.
func (r resolved) name() string {
	if r.mem != nil {
		return r.mem.name
	}
	return r.entry.Name
}

// close releases what resolving opened.
func (r resolved) close() {
	if r.entry != nil {
		r.entry.Close()
	}
}
