package h1

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
)

const wrkGet = "GET /settings-small.bin HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"

const phoneGet = "GET /46xxsettings.txt HTTP/1.1\r\n" +
	"Host: 198.18.0.1\r\n" +
	"User-Agent:  AVAYA/J179-4.1.3.0.6 (MAC:c81fea83e85a) \r\n" +
	"Accept: */*\r\n" +
	"If-None-Match: \"abc\"\r\n" +
	"If-None-Match: \"second\"\r\n" +
	"If-Modified-Since: Wed, 25 Nov 2026 17:42:45 GMT\r\n" +
	"Connection: Keep-Alive, CLOSE\r\n" +
	"\r\n"

func TestParseSimpleRequests(t *testing.T) {
	var r Request
	if got := Parse([]byte(wrkGet+"GET /next"), &r); got != OK {
		t.Fatalf("wrk's request: %v", got)
	}
	if r.Len != len(wrkGet) || r.Method != GET || string(r.Path) != "/settings-small.bin" || r.UserAgent != nil || r.Close {
		t.Fatalf("wrk's request: %+v", r)
	}
	if got := Parse([]byte(phoneGet), &r); got != OK {
		t.Fatalf("phone's request: %v", got)
	}
	if string(r.UserAgent) != "AVAYA/J179-4.1.3.0.6 (MAC:c81fea83e85a)" || string(r.IfNoneMatch) != `"abc"` ||
		string(r.IfModifiedSince) != "Wed, 25 Nov 2026 17:42:45 GMT" || !r.Close || r.IfMatch != nil {
		t.Fatalf("phone's request: %+v", r)
	}
	head := strings.Replace(wrkGet, "GET", "HEAD", 1)
	if got := Parse([]byte(head), &r); got != OK || r.Method != HEAD {
		t.Fatalf("HEAD: %v %+v", got, r)
	}
}

func TestParseNeedsWholeHead(t *testing.T) {
	var r Request
	for i := range len(phoneGet) {
		if got := Parse([]byte(phoneGet[:i]), &r); got != Incomplete {
			t.Fatalf("%d of %d bytes: %v", i, len(phoneGet), got)
		}
	}
}

func TestParseLeavesTheRestToNetHTTP(t *testing.T) {
	others := map[string]string{
		"POST":               "POST / HTTP/1.1\r\nHost: a\r\n\r\n",
		"PUT":                "PUT /backup/x HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx",
		"lower-case method":  "get / HTTP/1.1\r\nHost: a\r\n\r\n",
		"HTTP/1.0":           "GET / HTTP/1.0\r\n\r\n",
		"HTTP/2 preface":     "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"escape":             "GET /a%20b HTTP/1.1\r\nHost: a\r\n\r\n",
		"query":              "GET /a?b HTTP/1.1\r\nHost: a\r\n\r\n",
		"fragment":           "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
		"backslash":          "GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n",
		"absolute form":      "GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n",
		"asterisk":           "GET * HTTP/1.1\r\nHost: a\r\n\r\n",
		"two spaces":         "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
		"no version":         "GET /\r\nHost: a\r\n\r\n",
		"non-ASCII path":     "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
		"no host":            "GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n",
		"two hosts":          "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"empty host":         "GET / HTTP/1.1\r\nHost:\r\n\r\n",
		"odd host":           "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
		"range":              "GET / HTTP/1.1\r\nHost: a\r\nRange: bytes=0-1\r\n\r\n",
		"if-range":           "GET / HTTP/1.1\r\nHost: a\r\nIf-Range: \"x\"\r\n\r\n",
		"expect":             "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
		"upgrade":            "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n",
		"content-length":     "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
		"transfer-encoding":  "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"bare LF":            "GET / HTTP/1.1\nHost: a\n\n",
		"bare LF in header":  "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
		"bare CR":            "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n",
		"folded line":        "GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: a\r\n b\r\n\r\n",
		"space before colon": "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
		"no colon":           "GET / HTTP/1.1\r\nHost: a\r\nnonsense\r\n\r\n",
		"empty name":         "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n",
		"control in value":   "GET / HTTP/1.1\r\nHost: a\r\nAccept: a\x01b\r\n\r\n",
		"DEL in value":       "GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: a\x7fb\r\n\r\n",
		"leading CRLF":       "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
	}
	for name, req := range others {
		var r Request
		if got := Parse([]byte(req), &r); got != Other {
			t.Errorf("%s: %v, want Other", name, got)
		}
	}
}

// FuzzParseAgreesWithNetHTTP: whatever Parse accepts, net/http reads to
// the same method, path, headers and connection handling, with no body.
func FuzzParseAgreesWithNetHTTP(f *testing.F) {
	for _, s := range []string{wrkGet, phoneGet, "HEAD /a/b.bin HTTP/1.1\r\nhOsT: [::1]:80\r\nuser-agent:\tx\t\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: a\r\nIf-Match: *\r\nIf-Unmodified-Since: x\r\nConnection: close\r\n\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Request
		if Parse(b, &r) != OK {
			return
		}
		// The one intended difference: control bytes in the User-Agent
		// (agentControlByte), which net/http refuses. Compare the rest with
		// those bytes made printable for net/http.
		printable := func(b []byte, keepLines bool) []byte {
			out := bytes.Clone(b)
			for i, c := range out {
				if c < 0x20 && c != '\t' && !(keepLines && (c == '\r' || c == '\n')) {
					out[i] = '?'
				}
			}
			return out
		}
		head, agent := b[:r.Len], string(printable(r.UserAgent, false))
		if agent != string(r.UserAgent) {
			head = printable(head, true)
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			t.Fatalf("Parse accepted %q, net/http: %v", b[:r.Len], err)
		}
		want := map[Method]string{GET: "GET", HEAD: "HEAD"}[r.Method]
		switch {
		case req.Method != want:
			t.Fatalf("%q: method %s, net/http %s", b, want, req.Method)
		case req.URL.Path != string(r.Path) || req.RequestURI != string(r.Path) || req.URL.RawQuery != "":
			t.Fatalf("%q: path %q, net/http %q (%q)", b, r.Path, req.URL.Path, req.RequestURI)
		case req.UserAgent() != agent:
			t.Fatalf("%q: user agent %q, net/http %q", b, r.UserAgent, req.UserAgent())
		case req.Header.Get("If-Match") != string(r.IfMatch) || req.Header.Get("If-None-Match") != string(r.IfNoneMatch) ||
			req.Header.Get("If-Modified-Since") != string(r.IfModifiedSince) ||
			req.Header.Get("If-Unmodified-Since") != string(r.IfUnmodifiedSince):
			t.Fatalf("%q: conditions differ from net/http's %v", b, req.Header)
		case req.Close != r.Close:
			t.Fatalf("%q: close %v, net/http %v", b, r.Close, req.Close)
		case req.ContentLength != 0 || req.Header.Get("Range") != "" || req.Host == "":
			t.Fatalf("%q: net/http sees a body, a range or no host", b)
		case req.ProtoMajor != 1 || req.ProtoMinor != 1:
			t.Fatalf("%q: net/http sees %s", b, req.Proto)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	buf := []byte(phoneGet)
	var r Request
	b.ReportAllocs()
	for b.Loop() {
		if Parse(buf, &r) != OK {
			b.Fatal("not OK")
		}
	}
}

// TestParseAvaya1200Agent: the control byte an Avaya 1200-series SIP phone
// puts in its User-Agent (testdata/phones/avaya.toml, from wazo-provd-plugins
// plugins/wazo_avaya/common/common.py) does not stop the request, as it
// would in net/http (400); NUL still does.
func TestParseAvaya1200Agent(t *testing.T) {
	var r Request
	for _, agent := range []string{"AVAYA/SIP12x0\x17/04.00.04.00", "AVAYA/SIP12x0\x14/04.00.04.00", "AVAYA/SIP12x0\x16/04.00.04.00"} {
		head := "GET /1220SIP.cfg HTTP/1.1\r\nHost: 198.18.0.1\r\nUser-Agent: " + agent + "\r\n\r\n"
		if got := Parse([]byte(head), &r); got != OK || string(r.UserAgent) != agent {
			t.Errorf("%q: %v, agent %q", agent, got, r.UserAgent)
		}
	}
	if got := Parse([]byte("GET /a HTTP/1.1\r\nHost: a\r\nUser-Agent: x\x00y\r\n\r\n"), &r); got != Other {
		t.Errorf("a NUL in the User-Agent: %v, want Other", got)
	}
	if got := Parse([]byte("GET /a HTTP/1.1\r\nHost: a\r\nX-Other: x\x17y\r\n\r\n"), &r); got != Other {
		t.Errorf("a control byte in another header: %v, want Other", got)
	}
}
