package fileserve

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path"
	"strings"
	"sync/atomic"
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

func (h *fileHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	h.active.Add(1)
	defer h.active.Add(-1)
	rec := &recordingWriter{ResponseWriter: w}
	ev := AccessEvent{
		Time: start, Protocol: h.protocol, Client: remoteAddrPort(r.RemoteAddr),
		Name: r.URL.Path, UserAgent: r.UserAgent(),
	}
	defer func() {
		ev.Status, ev.Bytes, ev.Duration = rec.statusCode(), rec.bytes, time.Since(start)
		h.srv.finish(r.Context(), ev)
	}()

	st := h.srv.state.Load()
	for _, m := range st.mounts {
		if strings.HasPrefix(r.URL.Path, m.Prefix) {
			m.Handler.ServeHTTP(rec, r)
			return
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		rec.Header().Set("Allow", "GET, HEAD")
		http.Error(rec, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	client := Client{Addr: ev.Client.Addr(), Local: localAddr(r), Protocol: h.protocol, UserAgent: ev.UserAgent}
	entry, err := st.ns.Open(r.Context(), r.URL.Path, client)
	if err != nil {
		ev.Detail = h.srv.openFailed(err)
		code := http.StatusNotFound
		var refused *RefusedError
		switch {
		case errors.As(err, &refused):
			code = http.StatusForbidden
		case !errors.Is(err, ErrNotFound):
			code = http.StatusInternalServerError
		}
		http.Error(rec, http.StatusText(code), code)
		return
	}
	defer entry.Close()
	ev.Resolved, ev.Source, ev.Size = entry.Name, entry.Source, entry.Size
	hdr := rec.Header()
	hdr.Set("ETag", entry.ETag)
	hdr.Set("Content-Type", contentType(entry.Name))
	hdr.Set("Cache-Control", "no-cache") // phones revalidate at every boot; make caches do the same
	http.ServeContent(rec, r, entry.Name, entry.ModTime, entry.ReadSeeker())
}

// contentType is fixed by extension so answers do not depend on the host's
// MIME tables or on sniffing the content.
func contentType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".txt", ".scr", ".cfg", ".ini", ".inf":
		return "text/plain; charset=utf-8"
	case ".xml":
		return "application/xml"
	case ".pem", ".crt", ".cer":
		return "application/x-pem-file"
	case ".html", ".htm":
		return "text/html; charset=utf-8"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".png":
		return "image/png"
	case ".bmp":
		return "image/bmp"
	}
	return "application/octet-stream"
}

func localAddr(r *http.Request) netip.Addr {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return remoteAddrPort(a.String()).Addr()
	}
	return netip.Addr{}
}

func remoteAddrPort(s string) netip.AddrPort {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// recordingWriter remembers the status and counts body bytes. It passes
// ReadFrom through so plain files still go out with sendfile.
type recordingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *recordingWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok && isFile(r) {
		n, err = rf.ReadFrom(r) // sendfile
	} else {
		// In-memory bodies go through the response buffer, so a small
		// file leaves in the same write as the headers.
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
	}
	w.bytes += n
	return n, err
}

// isFile reports whether r reads an open file, which the kernel can send
// without copying.
func isFile(r io.Reader) bool {
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	_, ok := r.(*os.File)
	return ok
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *recordingWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
