package backup

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"syscall"

	"github.com/phoneprov/phoneprov/fileserve"
)

// Mount is the store's handler at the configured path, for fileserve.Options.Mounts.
func (s *Store) Mount() fileserve.Mount {
	return fileserve.Mount{Prefix: s.Config().Path, Handler: s}
}

// ServeHTTP answers the phones: PUT stores <path><name>, GET and HEAD
// return it, DELETE removes it. Checks run in this order: method (405),
// HTTPS when required (403), credentials when configured (401), User-Agent
// when required (403), name (400).
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg := s.cur.Load().cfg
	name := strings.TrimPrefix(r.URL.Path, cfg.Path)
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		s.refuse(w, r, name, http.StatusMethodNotAllowed, reasonMethod, "method not allowed")
		return
	}
	if cfg.RequireTLS && r.TLS == nil {
		s.refuse(w, r, name, http.StatusForbidden, reasonTLS, "backups need HTTPS")
		return
	}
	if len(cfg.Users) > 0 && !authorized(r, cfg.Users) {
		w.Header().Set("WWW-Authenticate", `Basic realm="phoneprov backup", charset="UTF-8"`)
		s.refuse(w, r, name, http.StatusUnauthorized, reasonAuth, "credentials required")
		return
	}
	if cfg.RequireAvayaUserAgent && !strings.Contains(strings.ToUpper(r.UserAgent()), "AVAYA") {
		s.refuse(w, r, name, http.StatusForbidden, reasonUserAgent, "only phones may use this folder")
		return
	}
	if err := s.CheckName(name); err != nil {
		if name == "" {
			http.Error(w, "no listing", http.StatusNotFound)
			return
		}
		s.refuse(w, r, name, http.StatusBadRequest, reasonBadName, err.Error())
		return
	}
	switch r.Method {
	case http.MethodPut:
		s.servePut(w, r, name, cfg)
	case http.MethodDelete:
		s.serveDelete(w, r, name)
	default:
		s.serveGet(w, r, name)
	}
}

func (s *Store) servePut(w http.ResponseWriter, r *http.Request, name string, cfg Config) {
	if r.Header.Get("Content-Range") != "" {
		s.refuse(w, r, name, http.StatusBadRequest, reasonPartial, "partial PUT is not supported")
		return
	}
	if r.ContentLength > cfg.MaxBytes {
		w.Header().Set("Connection", "close") // do not read the rest
		s.refuse(w, r, name, http.StatusRequestEntityTooLarge, reasonTooLarge,
			"larger than "+strconv.FormatInt(cfg.MaxBytes, 10)+" bytes")
		return
	}
	body := &readTracker{r: r.Body}
	res, err := s.Put(r.Context(), name, body)
	switch {
	case err == nil:
	case errors.Is(err, ErrTooLarge):
		w.Header().Set("Connection", "close")
		s.refuse(w, r, name, http.StatusRequestEntityTooLarge, reasonTooLarge,
			"larger than "+strconv.FormatInt(cfg.MaxBytes, 10)+" bytes")
		return
	case body.err != nil:
		s.refuse(w, r, name, http.StatusBadRequest, reasonIncomplete, "body incomplete: "+body.err.Error())
		return
	case errors.Is(err, ErrFull):
		s.refuse(w, r, name, http.StatusInsufficientStorage, reasonFull,
			"the store holds "+strconv.Itoa(s.MaxFiles())+" files already")
		return
	default:
		s.failed(w, r, name, err)
		return
	}
	s.metrics.stored.Inc()
	s.metrics.received.Add(float64(res.Bytes))
	replica := r.Header.Get(ReplicaHeader) != ""
	s.log.Info("backup stored", "name", name, "bytes", res.Bytes, "created", res.Created,
		"client", r.RemoteAddr, "proto", proto(r), "from_partner", replica)
	s.replicated(name, r.Header, replica)
	if res.Created {
		w.WriteHeader(http.StatusCreated)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Store) serveGet(w http.ResponseWriter, r *http.Request, name string) {
	f, fi, err := s.Open(name)
	if err != nil {
		s.notFoundOrFailed(w, r, name, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("ETag", fileserve.FileETag(fi))
	h.Set("Content-Type", "application/octet-stream") // 16xx files are UTF-16LE: no charset claim
	h.Set("Cache-Control", "no-store")
	cw := &fileserve.Recorder{ResponseWriter: w}
	http.ServeContent(cw, r, name, fi.ModTime(), f)
	if r.Method == http.MethodGet && cw.Status() < 300 {
		s.metrics.restored.Inc()
		s.metrics.sent.Add(float64(cw.Bytes()))
		s.log.Info("backup restored", "name", name, "bytes", cw.Bytes(), "client", r.RemoteAddr, "proto", proto(r))
	}
}

func (s *Store) serveDelete(w http.ResponseWriter, r *http.Request, name string) {
	err := s.Delete(r.Context(), name)
	if err != nil {
		s.notFoundOrFailed(w, r, name, err)
		return
	}
	s.metrics.deleted.Inc()
	s.log.Info("backup deleted", "name", name, "client", r.RemoteAddr, "proto", proto(r),
		"kept_as_version", s.cur.Load().cfg.Versions > 0)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Store) refuse(w http.ResponseWriter, r *http.Request, name string, code int, reason, msg string) {
	s.metrics.refused.WithLabelValues(reason).Inc()
	s.log.Info("backup request refused", "method", r.Method, "name", name, "reason", reason,
		"status", code, "client", r.RemoteAddr, "proto", proto(r), "user_agent", r.UserAgent())
	http.Error(w, msg, code)
}

// failed answers a request the store could not carry out: 507 when the
// data directory's disk is full or the quota used up (what was stored
// before is unchanged), 500 for anything else.
// notFoundOrFailed answers a request whose backup could not be opened or
// deleted: not found when there is none, else as failed.
func (s *Store) notFoundOrFailed(w http.ResponseWriter, r *http.Request, name string, err error) {
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, "no backup with that name", http.StatusNotFound)
		return
	}
	s.failed(w, r, name, err)
}

func (s *Store) failed(w http.ResponseWriter, r *http.Request, name string, err error) {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		s.metrics.refused.WithLabelValues(reasonDiskFull).Inc()
		s.log.Error("backup request failed: the data directory's disk is full or over quota",
			"method", r.Method, "name", name, "client", r.RemoteAddr, "err", err)
		http.Error(w, "no room left for backups", http.StatusInsufficientStorage)
		return
	}
	s.metrics.refused.WithLabelValues(reasonStoreFailed).Inc()
	s.log.Error("backup request failed", "method", r.Method, "name", name, "client", r.RemoteAddr, "err", err)
	http.Error(w, "backup store error", http.StatusInternalServerError)
}

// authorized checks HTTP Basic credentials against every configured pair,
// in time independent of which pair (if any) matches.
func authorized(r *http.Request, users []User) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	gotUser, gotPass := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	match := 0
	for _, u := range users {
		wantUser, wantPass := sha256.Sum256([]byte(u.Name)), sha256.Sum256([]byte(u.Password))
		match |= subtle.ConstantTimeCompare(gotUser[:], wantUser[:]) & subtle.ConstantTimeCompare(gotPass[:], wantPass[:])
	}
	return match == 1
}

func proto(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// readTracker remembers a read error from the client's body, to tell a
// phone that went away from a failure of the store.
type readTracker struct {
	r   io.Reader
	err error
}

func (t *readTracker) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}
