package appliance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// browser is headless Chromium driven over the DevTools protocol on a
// pipe (--remote-debugging-pipe: it reads commands on fd 3 and writes
// answers on fd 4, each a JSON message ended by a NUL), with one page
// attached. Every call is bounded; the browser is killed at cleanup.
type browser struct {
	t       *testing.T
	toPipe  *os.File
	mu      sync.Mutex
	nextID  int
	waiting map[int]chan cdpReply
	session string
}

type cdpReply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// cdpCallTimeout bounds one command; a navigation answers once the
// document is committed, well within it.
const cdpCallTimeout = 20 * time.Second

// startBrowser runs chromium with the test's flags and a fresh profile,
// and opens one blank page.
func startBrowser(t *testing.T, chromium string) *browser {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmdIn, toPipe, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromPipe, cmdOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, chromium, append(chromiumFlags(t), "--remote-debugging-pipe", "about:blank")...)
	cmd.ExtraFiles = []*os.File{cmdIn, cmdOut} // fd 3 and fd 4
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	cmdIn.Close()
	cmdOut.Close()
	b := &browser{t: t, toPipe: toPipe, waiting: map[int]chan cdpReply{}}
	done := make(chan struct{})
	go b.read(fromPipe, done)
	t.Cleanup(func() {
		toPipe.Close()
		cancel()
		cmd.Wait()
		fromPipe.Close()
		<-done
		if t.Failed() {
			t.Logf("chromium's stderr:\n%s", stderr.String())
		}
	})
	var target struct {
		TargetID string `json:"targetId"`
	}
	b.call("", "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	b.call("", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	b.session = attached.SessionID
	return b
}

// read hands each answer to its caller; events are not used.
func (b *browser) read(r *os.File, done chan struct{}) {
	defer close(done)
	br := bufio.NewReader(r)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			return
		}
		var m struct {
			ID int `json:"id"`
			cdpReply
		}
		if json.Unmarshal(msg[:len(msg)-1], &m) != nil || m.ID == 0 {
			continue
		}
		b.mu.Lock()
		ch := b.waiting[m.ID]
		delete(b.waiting, m.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- m.cdpReply
		}
	}
}

// call sends one command (to the page's session unless session is "" and
// the page is not attached yet) and decodes its result into out.
func (b *browser) call(session, method string, params map[string]any, out any) {
	b.t.Helper()
	b.mu.Lock()
	b.nextID++
	id := b.nextID
	ch := make(chan cdpReply, 1)
	b.waiting[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	data, err := json.Marshal(msg)
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := b.toPipe.Write(append(data, 0)); err != nil {
		b.t.Fatalf("%s: %v", method, err)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			b.t.Fatalf("%s: %s", method, r.Error.Message)
		}
		if out != nil {
			if err := json.Unmarshal(r.Result, out); err != nil {
				b.t.Fatalf("%s: %v", method, err)
			}
		}
	case <-time.After(cdpCallTimeout):
		b.t.Fatalf("%s: no answer within %s", method, cdpCallTimeout)
	}
}

// page sends a command to the attached page.
func (b *browser) page(method string, params map[string]any, out any) {
	b.t.Helper()
	b.call(b.session, method, params, out)
}

// eval runs a JavaScript expression in the page (DevTools' evaluation is
// not bound by the page's Content-Security-Policy) and decodes its value.
func (b *browser) eval(expr string, out any) {
	b.t.Helper()
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	b.page("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r)
	if r.ExceptionDetails != nil {
		b.t.Fatalf("%s: %s", expr, r.ExceptionDetails.Text)
	}
	if err := json.Unmarshal(r.Result.Value, out); err != nil {
		b.t.Fatalf("%s: %v (%s)", expr, err, r.Result.Value)
	}
}

// waitFor polls expr until it is true, for at most timeout.
func (b *browser) waitFor(expr string, timeout time.Duration) bool {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		b.eval("(() => { try { return !!("+expr+"); } catch (e) { return false; } })()", &ok)
		if ok {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// open loads url and waits until the document has loaded.
func (b *browser) open(url string) {
	b.t.Helper()
	b.page("Page.navigate", map[string]any{"url": url}, nil)
	if !b.waitFor(fmt.Sprintf("document.readyState === 'complete' && location.href === %q", url), 15*time.Second) {
		var href string
		b.eval("location.href", &href)
		b.t.Fatalf("%s did not load (at %s)", url, href)
	}
}

// resize sets the viewport as a screen that wide shows it (mobile for
// widths under 600), and reloads nothing.
func (b *browser) resize(width, height int) {
	b.t.Helper()
	b.page("Emulation.setDeviceMetricsOverride", map[string]any{
		"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600,
	}, nil)
}

// dom is the page's markup as it stands.
func (b *browser) dom() string {
	b.t.Helper()
	var s string
	b.eval("document.documentElement.outerHTML", &s)
	return s
}

// screenshot writes the whole page as a PNG and returns its bytes.
func (b *browser) screenshot(path string) []byte {
	b.t.Helper()
	var r struct {
		Data string `json:"data"`
	}
	b.page("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &r)
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	return png
}

// chromiumFlags are the flags every run shares: headless, a fresh
// profile, and nothing that reaches past 127.0.0.1.
func chromiumFlags(t *testing.T) []string {
	return []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-proxy-server",
		"--user-data-dir=" + t.TempDir(),
	}
}

// text is markup without its tags, spaces folded, for assertions on what
// a reader sees.
func text(html string) string {
	var b strings.Builder
	in := false
	for _, r := range html {
		switch {
		case r == '<':
			in = true
			b.WriteRune(' ')
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
