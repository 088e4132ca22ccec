package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The pages reload themselves (a meta refresh: no script runs on them)
// every defaultRefresh seconds; ?refresh=N chooses another period within
// minRefresh..maxRefresh, ?refresh=0 pauses. A reload asks for the same
// URL, so the search in its query survives it.
const (
	defaultRefresh = 15
	minRefresh     = 2
	maxRefresh     = 3600
)

// pageTop is what every page's head and header show.
type pageTop struct {
	Host, Version string
	Now           time.Time
	Title         string // the page's own title after the host, if any
	Leases        bool   // DHCP is on: the leases page exists

	// Refresh is the reload period in seconds, 0 when paused; Pause and
	// Resume are this page's URL with reloading switched off and back to
	// the default, the rest of the query kept.
	Refresh       int
	Pause, Resume string
	// RefreshParam is ?refresh= as given, for the search forms to carry
	// ("" for the default).
	RefreshParam string
}

// top reads the reload period from r's query and fills in the header.
func (s *Site) top(r *http.Request, title string) pageTop {
	q := r.URL.Query()
	t := pageTop{Host: s.host, Version: s.Version, Now: time.Now(), Title: title, Refresh: defaultRefresh, Leases: s.DHCP != nil}
	if v := q.Get("refresh"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			t.Refresh = n
			if n > 0 {
				t.Refresh = min(max(n, minRefresh), maxRefresh)
			}
			t.RefreshParam = strconv.Itoa(t.Refresh)
		}
	}
	t.Pause = withQuery(r.URL, "refresh", "0")
	t.Resume = withQuery(r.URL, "refresh", "")
	return t
}

// withQuery is u's path and query with key set to value, or removed when
// value is empty.
func withQuery(u *url.URL, key, value string) string {
	q := u.Query()
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	out := url.URL{Path: u.Path, RawQuery: q.Encode()}
	return out.String()
}
