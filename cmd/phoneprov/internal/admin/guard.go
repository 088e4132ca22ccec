package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"html/template"
	"net"
	"net/http"
	"strings"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
)

// cookieName carries a browser's proof of the token after it sent
// ?token= once, so the token does not stay in the address bar, the
// history or the page's links.
const cookieName = "phoneprov_admin"

// guard admits a request to the private handlers: with a token configured,
// one that proves it; without one (a loopback-only listener), one whose
// Host is an address or localhost, so a web page the operator's browser
// opens cannot reach the API through a DNS name rebound to 127.0.0.1.
type guard struct {
	next   http.Handler
	token  [sha256.Size]byte // hash of the token; zero when none is set
	cookie string            // the cookie value that proves the token
	hasTok bool
}

func newGuard(c config.Admin, next http.Handler) *guard {
	g := &guard{next: next}
	if c.Token != "" {
		g.hasTok = true
		g.token = sha256.Sum256([]byte(c.Token))
		sum := sha256.Sum256([]byte("phoneprov admin cookie\x00" + string(c.Token)))
		g.cookie = hex.EncodeToString(sum[:])
	}
	return g
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if !g.hasTok {
		if !localHost(r.Host) {
			http.Error(w, "the admin listener answers only to an address or localhost in the Host header", http.StatusMisdirectedRequest)
			return
		}
		g.next.ServeHTTP(w, r)
		return
	}
	if g.bearer(r) || g.cookieOK(r) {
		g.next.ServeHTTP(w, r)
		return
	}
	// The token in the address is taken only as a browser's one-time
	// login to the status page, which trades it for a cookie at once.
	// Anywhere else (the API) it would stay in logs and histories, so it
	// is refused there even when it is right.
	if q := r.URL.Query(); q.Has("token") {
		if r.URL.Path != "/" {
			g.refuse(w, r, "the token is not taken in the address")
			return
		}
		if !g.matches(q.Get("token")) {
			g.refuse(w, r, "wrong token")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: cookieName, Value: g.cookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		q.Del("token")
		u := *r.URL
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
		return
	}
	g.refuse(w, r, "")
}

func (g *guard) matches(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], g.token[:]) == 1
}

func (g *guard) bearer(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && g.matches(strings.TrimSpace(tok))
}

func (g *guard) cookieOK(r *http.Request) bool {
	c, err := r.Cookie(cookieName)
	return err == nil && subtle.ConstantTimeCompare([]byte(c.Value), []byte(g.cookie)) == 1
}

// loginPage asks a browser for the token with a plain GET form.
var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>phoneprov: token required</title>
<style>body{font:16px system-ui,sans-serif;margin:4em auto;max-width:28em;color:#222}
input{font:inherit;padding:.3em;width:100%;box-sizing:border-box;margin:.5em 0}
p.err{color:#b00}</style></head>
<body><h1>phoneprov</h1>
{{if .}}<p class="err">{{.}}</p>{{end}}
<form method="get" action="/"><label>Admin token (admin.token in the configuration)
<input type="password" name="token" autofocus autocomplete="current-password"></label>
<input type="submit" value="Open the status page"></form></body></html>
`))

// refuse answers 401: with the token form for a browser asking for the
// page, with a one-line hint for everything else.
func (g *guard) refuse(w http.ResponseWriter, r *http.Request, why string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="phoneprov admin"`)
	if r.URL.Path == "/" && strings.Contains(r.Header.Get("Accept"), "text/html") {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
		w.WriteHeader(http.StatusUnauthorized)
		loginPage.Execute(w, why)
		return
	}
	msg := "admin token required: send Authorization: Bearer <admin.token>"
	if why != "" {
		msg = why + "; " + msg
	}
	http.Error(w, msg, http.StatusUnauthorized)
}

// localHost reports whether a Host header names this box the way only a
// local client would: an IP address or localhost, with or without a port.
// An empty Host (an HTTP/1.0 tool) is allowed: browsers always send one.
func localHost(hostport string) bool {
	if hostport == "" {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.EqualFold(host, "localhost") || net.ParseIP(host) != nil
}
