package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoneprov/phoneprov/internal/obs"
)

// ReplicaHeader marks a PUT that copies a backup from the partner box: it
// is stored like a phone's and never copied back.
const ReplicaHeader = "X-Phoneprov-Replica"

// Retries of one copy: the delay doubles from replicaFirstRetry up to
// replicaMaxRetry; after replicaAttempts failures the copy is dropped and
// counted (the next upload of that name queues it again).
const (
	replicaFirstRetry = time.Second
	replicaMaxRetry   = time.Minute
	replicaAttempts   = 12
	replicaTimeout    = 30 * time.Second
)

// replicaJob is one name waiting to be copied to the partner. The phone's
// Authorization and User-Agent headers go with it (in memory only), so
// the partner applies the same checks to the copy as to the phone.
type replicaJob struct {
	header   http.Header
	attempts int
	due      time.Time
	gen      uint64 // bumped by each new upload of the name
}

// replicator copies each backup stored here to the partner's backup
// folder, one at a time, in the background: the newest version of the
// name is read when the copy is sent, so several uploads in a row make one
// copy. The partner stores it with the same atomic, versioned Put.
type replicator struct {
	base    *url.URL // the partner's backup folder
	client  *http.Client
	store   *Store
	log     *slog.Logger
	metrics replicaMetrics
	now     func() time.Time

	mu      sync.Mutex
	pending map[string]*replicaJob
	gen     uint64
	wake    chan struct{}
}

type replicaMetrics struct {
	replicated, failures, dropped, received prometheus.Counter
}

func newReplicator(target string, client *http.Client, s *Store, reg prometheus.Registerer) (*replicator, error) {
	base, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("backup: replica URL: %w", err)
	}
	if client == nil {
		client = &http.Client{}
	}
	r := &replicator{base: base, client: client, store: s, log: s.log.With("replica", target), now: time.Now,
		pending: map[string]*replicaJob{}, wake: make(chan struct{}, 1)}
	r.metrics = replicaMetrics{
		replicated: obs.Counter("phoneprov_backup_replicated_total", "Backup files copied to the partner box and stored there."),
		failures:   obs.Counter("phoneprov_backup_replica_failures_total", "Attempts to copy a backup file to the partner box that failed (each is retried)."),
		dropped:    obs.Counter("phoneprov_backup_replica_dropped_total", "Backup file copies given up after every retry failed."),
		received:   obs.Counter("phoneprov_backup_replica_received_total", "Backup files the partner box copied here."),
	}
	pending := obs.GaugeFunc("phoneprov_backup_replica_pending", "Backup files waiting to be copied to the partner box.", r.pendingCount)
	if err := obs.Register(reg, "backup replica", r.metrics.replicated, r.metrics.failures, r.metrics.dropped, r.metrics.received, pending); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *replicator) pendingCount() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return float64(len(r.pending))
}

// enqueue queues name for copying, now; h is the phone's request header.
func (r *replicator) enqueue(name string, h http.Header) {
	keep := http.Header{}
	for _, k := range []string{"Authorization", "User-Agent"} {
		if v := h.Get(k); v != "" {
			keep.Set(k, v)
		}
	}
	r.mu.Lock()
	r.gen++
	r.pending[name] = &replicaJob{header: keep, due: r.now(), gen: r.gen}
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run sends the copies as they fall due until ctx ends.
func (r *replicator) run(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		name, job, wait := r.nextDue()
		if job != nil {
			r.send(ctx, name, job)
			continue
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-t.C:
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
	}
}

// nextDue returns a job due now, or how long until the next one is.
func (r *replicator) nextDue() (string, *replicaJob, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now, wait := r.now(), time.Hour
	for name, j := range r.pending {
		if d := j.due.Sub(now); d <= 0 {
			cp := *j
			return name, &cp, 0
		} else if d < wait {
			wait = d
		}
	}
	return "", nil, wait
}

// send copies name once and settles the job: done, retried later, or
// dropped.
func (r *replicator) send(ctx context.Context, name string, job *replicaJob) {
	err := r.put(ctx, name, job.header)
	r.mu.Lock()
	defer r.mu.Unlock()
	cur := r.pending[name]
	if cur == nil || cur.gen != job.gen {
		return // a newer upload queued it again: that copy is sent next
	}
	switch {
	case err == nil:
		delete(r.pending, name)
		r.metrics.replicated.Inc()
		r.log.Info("backup copied to the partner", "name", name)
	case errors.Is(err, fs.ErrNotExist):
		delete(r.pending, name) // deleted here since: nothing to copy
	default:
		r.metrics.failures.Inc()
		cur.attempts++
		if cur.attempts >= replicaAttempts || ctx.Err() != nil {
			delete(r.pending, name)
			r.metrics.dropped.Inc()
			r.log.Error("backup not copied to the partner; given up", "name", name, "attempts", cur.attempts, "err", err)
			return
		}
		delay := min(replicaFirstRetry<<(cur.attempts-1), replicaMaxRetry)
		cur.due = r.now().Add(delay)
		r.log.Warn("backup not copied to the partner; will retry", "name", name, "retry_in", delay, "err", err)
	}
}

// put sends the current version of name to the partner.
func (r *replicator) put(ctx context.Context, name string, h http.Header) error {
	f, fi, err := r.store.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(ctx, replicaTimeout)
	defer cancel()
	u := r.base.JoinPath(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), f)
	if err != nil {
		return fmt.Errorf("backup %s: copy to the partner: %w", name, err)
	}
	req.ContentLength = fi.Size()
	req.Header = h.Clone()
	req.Header.Set(ReplicaHeader, "1")
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("backup %s: copy to %s: %w", name, u.Redacted(), err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("backup %s: copy to %s: %s: %s", name, u.Redacted(), resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// Replicating reports whether uploads are copied to a partner box.
func (s *Store) Replicating() bool { return s.replica != nil }

// Replicate copies the uploads to the partner box until ctx ends; run it
// when Replicating. Copies still queued when it ends are not sent.
func (s *Store) Replicate(ctx context.Context) error {
	if s.replica == nil {
		return errors.New("backup: no partner to copy to")
	}
	s.replica.run(ctx)
	return nil
}

// replicated follows a stored upload: a copy from the partner is counted,
// a phone's is queued for the partner.
func (s *Store) replicated(name string, h http.Header, fromPartner bool) {
	if s.replica == nil {
		return
	}
	if fromPartner {
		s.replica.metrics.received.Inc()
		return
	}
	s.replica.enqueue(name, h)
}
