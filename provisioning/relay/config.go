package relay

import (
	"fmt"
	"net/url"
	"time"
)

// Config is the [provisioning.relay] section of the configuration file.
type Config struct {
	// Upstreams are base URLs (http or https) tried in order for a name no
	// other source has; the first that has it wins. Empty turns the relay off.
	// Credentials in the URL (https://user:pass@host/dir/) are sent as HTTP
	// Basic and never logged.
	Upstreams []string `toml:"upstreams"`
	// CAFile is a PEM bundle trusted, besides the system's roots, for https upstreams.
	CAFile string `toml:"ca_file"`
	// FreshFor is how long a cached file is served without asking the
	// upstream whether it changed.
	FreshFor time.Duration `toml:"fresh_for"`
	// NegativeFor is how long "the upstream does not have it" (404 or 410),
	// or a failed fetch, is remembered before the upstream is asked again.
	NegativeFor time.Duration `toml:"negative_for"`
	// RevalidateWait is how long a request waits for a revalidation before
	// the cached copy is served anyway (the revalidation goes on).
	RevalidateWait time.Duration `toml:"revalidate_wait"`
	// ServeStaleFor is how long past FreshFor a cached copy may still be
	// served while the upstream cannot be reached or fails; 0 never serves
	// a copy the upstream has not confirmed.
	ServeStaleFor time.Duration `toml:"serve_stale_for"`
	// MaxFileBytes caps one fetched file; a larger one is not cached.
	MaxFileBytes int64 `toml:"max_file_bytes"`
	// ConnectTimeout bounds connecting to an upstream (TCP and TLS).
	ConnectTimeout time.Duration `toml:"connect_timeout"`
	// FetchTimeout bounds one whole fetch, body included (and the wait for
	// a free fetch slot).
	FetchTimeout time.Duration `toml:"fetch_timeout"`
	// MaxParallelFetches caps the downloads running at once, so a storm of
	// phones asking for many different names does not flood the upstream.
	MaxParallelFetches int `toml:"max_parallel_fetches"`
}

// DefaultConfig returns the built-in defaults: no upstream (relay off), a
// five-minute freshness, 30 s negative caching, stale copies served for up
// to a week while the upstream is down.
func DefaultConfig() Config {
	return Config{
		Upstreams:      []string{},
		FreshFor:       5 * time.Minute,
		NegativeFor:    30 * time.Second,
		RevalidateWait: 2 * time.Second,
		ServeStaleFor:  7 * 24 * time.Hour,
		MaxFileBytes:   512 << 20,
		ConnectTimeout: 10 * time.Second,
		FetchTimeout:   10 * time.Minute,

		MaxParallelFetches: 8,
	}
}

// Enabled reports whether any upstream is configured.
func (c Config) Enabled() bool { return len(c.Upstreams) > 0 }

// Validate reports every problem with c, keyed relative to [provisioning.relay].
func (c Config) Validate(report func(key string, err error)) {
	seen := map[string]bool{}
	for i, raw := range c.Upstreams {
		key := fmt.Sprintf("upstreams[%d]", i)
		u, err := parseUpstream(raw)
		if err != nil {
			report(key, err)
			continue
		}
		if seen[u.String()] {
			report(key, fmt.Errorf("%s is listed twice", u.Redacted()))
		}
		seen[u.String()] = true
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			report(key, fmt.Errorf("%s must be positive (write durations with a unit, like \"30s\")", d))
		}
	}
	positive("fresh_for", c.FreshFor)
	positive("negative_for", c.NegativeFor)
	positive("revalidate_wait", c.RevalidateWait)
	positive("connect_timeout", c.ConnectTimeout)
	positive("fetch_timeout", c.FetchTimeout)
	if c.ServeStaleFor < 0 {
		report("serve_stale_for", fmt.Errorf("%s is negative (0 never serves stale copies)", c.ServeStaleFor))
	}
	if c.MaxFileBytes < 1 {
		report("max_file_bytes", fmt.Errorf("%d must be positive", c.MaxFileBytes))
	}
	if c.MaxParallelFetches < 1 || c.MaxParallelFetches > 1000 {
		report("max_parallel_fetches", fmt.Errorf("%d is outside 1..1000", c.MaxParallelFetches))
	}
}

// parseUpstream checks one upstream base URL and gives it a trailing slash.
func parseUpstream(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%s: the scheme must be http or https", u.Redacted())
	case u.Host == "":
		return nil, fmt.Errorf("%s: no host", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, fmt.Errorf("%s: a base URL takes no query or fragment", u.Redacted())
	}
	if u.Path == "" || u.Path[len(u.Path)-1] != '/' {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u, nil
}
