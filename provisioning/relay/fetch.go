package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/phoneprov/phoneprov/internal/durable"
)

// refreshResult is what one fetch-or-revalidate of a name found.
type refreshResult struct {
	outcome string // fetchFetched, fetchNotModified, fetchAbsent or fetchFailed
	meta    *meta  // the current copy for fetched and not_modified
}

// fetchError is a failed upstream request, with the metrics reason.
type fetchError struct {
	reason string
	err    error
}

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

func failure(reason string, format string, args ...any) error {
	return &fetchError{reason: reason, err: fmt.Errorf(format, args...)}
}

// errAbsent: the upstream answered 404 or 410.
var errAbsent = errors.New("not on the upstream")

// refresh asks the upstreams, in order, for name, conditionally when a copy
// is cached, and records what it learns. It runs once per name at a time,
// detached from the requests waiting on it, bounded by Config.FetchTimeout.
func (r *Relay) refresh(name string) refreshResult {
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.FetchTimeout)
	defer cancel()
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
	case <-ctx.Done():
		r.metrics.errors.WithLabelValues(errTimeout).Inc()
		r.metrics.fetches.WithLabelValues(fetchFailed).Inc()
		r.log.Warn("relay: no fetch slot free in time; answering not found", "name", name,
			"max_parallel_fetches", r.cfg.MaxParallelFetches)
		return refreshResult{outcome: fetchFailed}
	}
	r.mu.Lock()
	var held *meta
	if e := r.entries[name]; e != nil {
		held = e.meta
	}
	r.mu.Unlock()

	var failures []string
	for _, base := range r.upstreams {
		res, problem, done := r.askUpstream(ctx, base, name, held)
		if done {
			return res
		}
		if problem != "" {
			failures = append(failures, problem)
		}
	}
	if len(failures) > 0 {
		return r.upstreamsFailed(name, held, failures)
	}
	return r.goneUpstream(name, held)
}

// askUpstream asks one upstream for name. done says the answer settles it;
// otherwise problem, when not empty, says what went wrong, and an empty
// problem means the upstream does not have the file.
func (r *Relay) askUpstream(ctx context.Context, base *url.URL, name string, held *meta) (res refreshResult, problem string, done bool) {
	start := time.Now()
	target := upstreamURL(base, name)
	p, notModified, err := r.fetchFrom(ctx, target, name, held)
	switch {
	case err == nil && notModified:
		r.metrics.fetches.WithLabelValues(fetchNotModified).Inc()
		r.log.Debug("relay copy still current", "name", name, "upstream", target.Redacted())
		r.update(name, func(e *entry, now time.Time) {
			e.validated, e.failedUntil = now, time.Time{}
		})
		return refreshResult{outcome: fetchNotModified, meta: held}, "", true
	case err == nil:
		if err := r.installFetched(p); err != nil {
			r.metrics.errors.WithLabelValues(errStore).Inc()
			r.metrics.fetches.WithLabelValues(fetchFailed).Inc()
			r.log.Error("relay cannot store a download", "name", name, "err", err)
			return refreshResult{}, err.Error(), false
		}
		r.metrics.fetches.WithLabelValues(fetchFetched).Inc()
		r.metrics.bytes.Add(float64(p.meta.Size))
		r.log.Info("relay fetched", "name", name, "upstream", target.Redacted(), "bytes", p.meta.Size,
			"etag", p.meta.ETag, "duration", time.Since(start).Round(time.Millisecond), "replaced", held != nil)
		return refreshResult{outcome: fetchFetched, meta: p.meta}, "", true
	case errors.Is(err, errAbsent):
		r.metrics.fetches.WithLabelValues(fetchAbsent).Inc()
		r.log.Debug("relay: not on this upstream", "name", name, "upstream", target.Redacted())
		return refreshResult{}, "", false
	}
	reason := errNetwork
	var fe *fetchError
	if errors.As(err, &fe) {
		reason = fe.reason
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		reason = errTimeout
	}
	r.metrics.errors.WithLabelValues(reason).Inc()
	r.metrics.fetches.WithLabelValues(fetchFailed).Inc()
	return refreshResult{}, target.Redacted() + ": " + err.Error(), false
}

// upstreamsFailed records that some upstream failed: the file cannot be
// said not to exist, so it is not asked for again for a while.
func (r *Relay) upstreamsFailed(name string, held *meta, failures []string) refreshResult {
	now := r.now()
	r.update(name, func(e *entry, now time.Time) { e.failedUntil = now.Add(r.cfg.NegativeFor) })
	what := "answering not found"
	if held != nil && r.staleAllowed(held, r.validatedAt(name), now) {
		what = "serving the cached copy"
	}
	r.log.Warn("relay upstream failed; "+what, "name", name, "errors", strings.Join(failures, "; "),
		"retry_after", r.cfg.NegativeFor)
	return refreshResult{outcome: fetchFailed}
}

// goneUpstream records that no upstream has name, removing a cached copy.
func (r *Relay) goneUpstream(name string, held *meta) refreshResult {
	now := r.now()
	if held != nil {
		r.log.Info("relay file gone from the upstream; cached copy removed", "name", name)
	}
	r.mu.Lock()
	e := r.entryLocked(name)
	if e.meta != nil {
		if err := r.cache.remove(name); err != nil {
			r.log.Warn("relay cannot remove a withdrawn file", "name", name, "err", err)
		}
	}
	e.meta, e.absentUntil, e.failedUntil = nil, now.Add(r.cfg.NegativeFor), time.Time{}
	r.mu.Unlock()
	return refreshResult{outcome: fetchAbsent}
}

// upstreamURL joins base and the clean name, escaping each segment.
func upstreamURL(base *url.URL, name string) *url.URL {
	segs := strings.Split(name, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	u := *base
	u.Path = base.Path + name
	u.RawPath = base.EscapedPath() + strings.Join(segs, "/")
	return &u
}

// fetchFrom requests target; on 200 it downloads the body into a prepared
// (not yet installed) cache file.
func (r *Relay) fetchFrom(ctx context.Context, target *url.URL, name string, held *meta) (p *pending, notModified bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return nil, false, failure(errNetwork, "build request: %w", err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", "phoneprov-relay")
	if held != nil {
		if held.ETag != "" {
			req.Header.Set("If-None-Match", held.ETag)
		}
		if held.LastModified != "" {
			req.Header.Set("If-Modified-Since", held.LastModified)
		}
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, false, err // *url.Error: network, TLS or timeout
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && held != nil:
		return nil, true, nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, false, errAbsent
	case resp.StatusCode != http.StatusOK:
		return nil, false, failure(errStatus, "status %s", resp.Status)
	}
	p, err = r.download(name, resp)
	if err != nil {
		return nil, false, err
	}
	p.meta.Source = target.Redacted()
	return p, false, nil
}

// download stores the body of a 200 response in a temporary cache file,
// refusing it when it is over the size limit or shorter than announced.
func (r *Relay) download(name string, resp *http.Response) (*pending, error) {
	limit := r.cfg.MaxFileBytes
	if resp.ContentLength > limit {
		return nil, failure(errTooLarge, "%d bytes announced, more than max_file_bytes (%d)", resp.ContentLength, limit)
	}
	f, tmp, err := r.cache.create(name)
	if err != nil {
		return nil, failure(errStore, "%w", err)
	}
	n, err := io.Copy(f, io.LimitReader(resp.Body, limit+1))
	switch {
	case err != nil && (errors.Is(err, io.ErrUnexpectedEOF) || resp.ContentLength >= 0 && n < resp.ContentLength):
		err = failure(errTruncated, "body cut short after %d of %d bytes: %w", n, resp.ContentLength, err)
	case err != nil:
		err = fmt.Errorf("read body after %d bytes: %w", n, err)
	case n > limit:
		err = failure(errTooLarge, "body longer than max_file_bytes (%d)", limit)
	case resp.ContentLength >= 0 && n != resp.ContentLength:
		err = failure(errTruncated, "body of %d bytes, but Content-Length said %d", n, resp.ContentLength)
	}
	if err == nil {
		if err = durable.SyncClose(f); err != nil {
			err = failure(errStore, "sync: %w", err)
		}
	} else {
		_ = f.Close()
	}
	if err != nil {
		r.cache.root.Remove(tmp)
		return nil, err
	}
	m := &meta{
		Name:         name,
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
		FetchedAt:    r.now(),
	}
	p, err := r.cache.prepare(name, tmp, m)
	if err != nil {
		r.cache.root.Remove(tmp)
		return nil, failure(errStore, "%w", err)
	}
	return p, nil
}

// installFetched puts a prepared download in place and makes it current.
func (r *Relay) installFetched(p *pending) error {
	r.mu.Lock()
	err := r.cache.install(p)
	if err == nil {
		e := r.entryLocked(p.name)
		now := r.now()
		e.meta, e.validated, e.absentUntil, e.failedUntil = p.meta, now, time.Time{}, time.Time{}
	}
	r.mu.Unlock()
	if err != nil {
		r.cache.discard(p)
		return err
	}
	return r.cache.syncDir(p.name)
}

// update changes name's entry under the lock.
func (r *Relay) update(name string, change func(e *entry, now time.Time)) {
	now := r.now()
	r.mu.Lock()
	change(r.entryLocked(name), now)
	r.mu.Unlock()
}

func (r *Relay) entryLocked(name string) *entry {
	e := r.entries[name]
	if e == nil {
		r.trimLocked()
		e = &entry{}
		r.entries[name] = e
	}
	return e
}

func (r *Relay) validatedAt(name string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.entries[name]; e != nil {
		return e.validated
	}
	return time.Time{}
}
