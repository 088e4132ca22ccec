package fileserve

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Mount is an extra HTTP handler for a path prefix (such as the phones'
// backup folder), served on HTTP and HTTPS before the file namespace.
type Mount struct {
	Prefix  string // e.g. "/backup/"
	Handler http.Handler
}

// fileHandler serves the namespace over HTTP or HTTPS.
type fileHandler struct {
	srv      *Server
	protocol string
	active   *atomic.Int64
}

// connInfo is what a request needs to know about its connection, worked
// out once when the connection is accepted.
type connInfo struct {
	remote netip.AddrPort
	local  netip.Addr
	raw    syscall.RawConn // plain TCP only: for TCP_CORK around file bodies
}

type connInfoKey struct{}

// withConnInfo is the http.Server's ConnContext.
func withConnInfo(ctx context.Context, c net.Conn) context.Context {
	ci := &connInfo{remote: addrPortOf(c.RemoteAddr()), local: addrPortOf(c.LocalAddr()).Addr()}
	if sc, ok := c.(syscall.Conn); ok { // a *net.TCPConn, or one the fast path handed over
		ci.raw, _ = sc.SyscallConn()
	}
	return context.WithValue(ctx, connInfoKey{}, ci)
}

// connInfoOf returns the request's connection facts; for a request that
// did not come through withConnInfo (a test calling the handler), it
// parses them from the request.
func connInfoOf(r *http.Request) *connInfo {
	if ci, ok := r.Context().Value(connInfoKey{}).(*connInfo); ok {
		return ci
	}
	ci := &connInfo{remote: parseAddrPort(r.RemoteAddr)}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		ci.local = addrPortOf(a).Addr()
	}
	return ci
}

func addrPortOf(a net.Addr) netip.AddrPort {
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case nil:
		return netip.AddrPort{}
	default:
		return parseAddrPort(a.String())
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func parseAddrPort(s string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

func (h *fileHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h.active.Add(1)
	defer h.active.Add(-1)
	ci := connInfoOf(r)
	rec := &Recorder{ResponseWriter: w}
	ev := AccessEvent{
		Time: start, Protocol: h.protocol, Client: ci.remote,
		Name: r.URL.Path, UserAgent: r.UserAgent(),
	}
	defer func() {
		ev.Status, ev.Bytes, ev.Duration = rec.Status(), rec.Bytes(), time.Since(start)
		h.srv.finish(r.Context(), &ev)
	}()

	st := h.srv.state.Load()
	for _, m := range st.mounts {
		if strings.HasPrefix(r.URL.Path, m.Prefix) {
			m.Handler.ServeHTTP(rec, r)
			return
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rec.Header()["Allow"] = allowGetHead
		http.Error(rec, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	client := Client{Addr: ci.remote.Addr(), Local: ci.local, Protocol: h.protocol, UserAgent: ev.UserAgent}
	res, err := st.ns.resolve(r.Context(), r.URL.Path, client)
	if err != nil {
		code := h.srv.openFailedStatus(err, &ev)
		http.Error(rec, http.StatusText(code), code)
		return
	}
	if r.Method == http.MethodGet {
		release, retryAfter, ok := h.srv.admit(res.name(), client)
		if !ok {
			res.close()
			ev.Resolved, ev.Detail = res.name(), refusedBusy
			rec.Header()["Retry-After"] = []string{strconv.FormatInt(retryAfterSeconds(retryAfter), 10)}
			http.Error(rec, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
			return
		}
		if release != nil {
			defer release()
		}
	}
	// What reaches net/http is what the fast path hands over: a Range, a
	// body, HTTP/1.0, a head it does not parse itself. ServeContent
	// answers it; a plain GET or HEAD goes to the fast path's writeContent.
	hdr := rec.Header()
	hdr["Cache-Control"] = noCache
	if m := res.mem; m != nil {
		ev.Resolved, ev.Source, ev.Size = m.name, res.source, int64(len(m.data))
		hdr["Etag"] = []string{m.head.etag}
		hdr["Content-Type"] = contentTypeHeader(m.name)
		http.ServeContent(rec, r, m.name, m.mod, bytes.NewReader(m.data))
		return
	}
	entry := res.entry
	defer entry.Close()
	ev.Resolved, ev.Source, ev.Size = entry.Name, entry.Source, entry.Size
	hdr["Etag"] = []string{entry.ETag}
	hdr["Content-Type"] = contentTypeHeader(entry.Name)
	if entry.file != nil && r.Method == http.MethodGet && ci.raw != nil {
		// Hold the headers back until the body follows them, so both
		// leave in full-sized segments; see cork and corkMin.
		cork(ci.raw, true)
		defer cork(ci.raw, false)
	}
	http.ServeContent(rec, r, entry.Name, entry.ModTime, entry.ReadSeeker())
}

// cork sets or clears TCP_CORK. With the headers written on their own,
// the client gets a short segment before every body, and its receive
// window then stalls on zero far more often (nginx's tcp_nopush does the
// same job). Clearing the option sends what is held.
func cork(raw syscall.RawConn, on bool) {
	v := 0
	if on {
		v = 1
	}
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, v)
	})
}

// Header values that never change. They are shared by every response and
// never appended to (net/http replaces header values, it does not append
// to them), so they stay as they are.
var (
	noCache      = []string{"no-cache"} // phones revalidate at every boot; make caches do the same
	allowGetHead = []string{"GET, HEAD"}

	contentTypes = map[string][]string{
		".txt": {"text/plain; charset=utf-8"}, ".scr": {"text/plain; charset=utf-8"},
		".cfg": {"text/plain; charset=utf-8"}, ".ini": {"text/plain; charset=utf-8"},
		".inf": {"text/plain; charset=utf-8"},
		".xml": {"application/xml"},
		".pem": {"application/x-pem-file"}, ".crt": {"application/x-pem-file"}, ".cer": {"application/x-pem-file"},
		".html": {"text/html; charset=utf-8"}, ".htm": {"text/html; charset=utf-8"},
		".jpg": {"image/jpeg"}, ".jpeg": {"image/jpeg"},
		".png": {"image/png"},
		".bmp": {"image/bmp"},
	}
	octetStream = []string{"application/octet-stream"}
)

// contentTypeHeader is the Content-Type for name, as a shared header
// value. It is fixed by extension so answers do not depend on the host's
// MIME tables or on sniffing the content.
func contentTypeHeader(name string) []string {
	ext := path.Ext(name)
	if v, ok := contentTypes[ext]; ok {
		return v
	}
	if v, ok := contentTypes[strings.ToLower(ext)]; ok {
		return v
	}
	return octetStream
}

// openFailedStatus records why a name could not be served and returns the
// status to answer with.
func (s *Server) openFailedStatus(err error, ev *AccessEvent) int {
	ev.Detail = s.openFailed(err)
	var refused *RefusedError
	switch {
	case errors.Is(err, ErrNotFound): // a name too long for any file too
		return http.StatusNotFound
	case errors.As(err, &refused):
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}
