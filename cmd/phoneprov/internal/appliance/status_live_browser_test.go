package appliance

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// put uploads body to name on the file server as a phone backs up.
func (ta *testAppliance) put(t *testing.T, name, userAgent, body string) int {
	t.Helper()
	return ta.send(t, http.MethodPut, name, userAgent, strings.NewReader(body))
}

// section is the part of a page's markup from the element with id from
// to the next section.
func section(t *testing.T, dom, id string) string {
	t.Helper()
	i := strings.Index(dom, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("the page has no #%s", id)
	}
	rest := dom[i:]
	if j := strings.Index(rest, "</section>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// TestStatusPageLiveInABrowser drives headless Chromium over the DevTools
// protocol through what an operator does: the page reloads itself and
// keeps the search, a MAC in the list leads to the phone's page (its
// files, its backups), misses that phones make by design are information
// while a store failure and a missing firmware are errors, and nothing
// scrolls sideways on a 1280-px screen or a 390-px phone. Screenshots at
// both widths are kept ($PHONEPROV_ARTIFACTS, else the test's folder).
func TestStatusPageLiveInABrowser(t *testing.T) {
	t.Parallel()
	chromium := requireTestTool(t, "chromium")
	ta := startAppliance(t, "")
	for _, name := range []string{"J100Supgrade.txt", "FW_S_J179_R4_1_3_0_6.bin"} {
		if code := ta.fetch(t, name, j179Agent); code != http.StatusOK {
			t.Fatalf("%s: %d", name, code)
		}
	}
	// What phones ask for by design and a healthy appliance may not have
	// (see admin.ExpectedMiss for the sources).
	const backupName = "backup/1234_96xxdata.txt"
	misses := []string{"000000000000.cfg", "c81fea83e85a.cfg", "SEPC81FEA83E85A.cnf.xml", "ITLSEPC81FEA83E85A.tlv", "c81fea83e85a.txt", backupName}
	for _, name := range misses {
		if code := ta.fetch(t, name, j179Agent); code != http.StatusNotFound {
			t.Fatalf("%s: %d, want 404", name, code)
		}
	}
	if code := ta.put(t, backupName, j179Agent, "SPEEDDIAL=1\n"); code != http.StatusCreated {
		t.Fatalf("first backup: %d", code)
	}
	if code := ta.fetch(t, backupName, j179Agent); code != http.StatusOK {
		t.Fatalf("restore: %d", code)
	}
	// Real problems: the backup store fails (its folder is gone), and the
	// phone asks for a firmware the tree lacks.
	if err := os.RemoveAll(filepath.Join(ta.dataDir, "backup")); err != nil {
		t.Fatal(err)
	}
	if code := ta.put(t, backupName, j179Agent, "SPEEDDIAL=2\n"); code < 500 {
		t.Fatalf("backup into a removed store: %d, want a 5xx", code)
	}
	if code := ta.fetch(t, "FW_S_J179_R9_9_9_9_9.bin", j179Agent); code != http.StatusNotFound {
		t.Fatalf("missing firmware: %d", code)
	}
	const other = "c8:1f:ea:00:0b:ad"
	ta.fetch(t, "J100Supgrade.txt", "Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.0.0.0.9 (MAC:c81fea000bad)")
	ta.waitPhone(t, j179MAC)
	ta.waitPhone(t, other)
	waitFiles(t, ta, j179MAC, len(misses)+5)

	b := startBrowser(t, chromium)
	b.resize(1280, 900)
	search := ta.admin + "/?refresh=2&q=c81fea83"
	b.open(search)
	dom := b.dom()

	// Errors that matter, apart from expected misses.
	var count string
	b.eval(`document.querySelector('#error-count .big').textContent`, &count)
	if count != "2" {
		t.Errorf("the error card counts %q, want 2 (the store failure and the missing firmware)", count)
	}
	if card := text(section(t, dom, "error-count")); !strings.Contains(card, fmt.Sprintf("%d expected misses not counted", len(misses))) {
		t.Errorf("the error card: %q", card)
	}
	errs := text(section(t, dom, "errors"))
	for _, want := range []string{"/" + backupName + " → 500", "/FW_S_J179_R9_9_9_9_9.bin → 404"} {
		if !strings.Contains(errs, want) {
			t.Errorf("recent errors lack %q: %s", want, errs)
		}
	}
	info := text(section(t, dom, "misses"))
	for _, name := range misses {
		if strings.Contains(errs, name) && name != backupName {
			t.Errorf("an expected miss, %s, is among the errors", name)
		}
		if !strings.Contains(info, "/"+name+" → 404") {
			t.Errorf("the expected misses lack %s: %s", name, info)
		}
	}
	if strings.Contains(errs, "/"+backupName+" → 404") {
		t.Error("the first restore before any backup is an error")
	}

	// Live: the page reloads itself with its search, and shows what came
	// since (a second phone matching the search).
	const newcomer = "c8:1f:ea:83:00:01"
	if !strings.Contains(dom, j179MAC) || strings.Contains(dom, other) || strings.Contains(dom, newcomer) {
		t.Fatalf("the search for c81fea83 lists the J179 %v, the other phone %v, the newcomer %v",
			strings.Contains(dom, j179MAC), strings.Contains(dom, other), strings.Contains(dom, newcomer))
	}
	b.eval(`document.body.dataset.mark = 'before reload'`, new(string))
	ta.fetch(t, "J100Supgrade.txt", "Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-4.1.3.0.6 (MAC:c81fea830001)")
	ta.waitPhone(t, newcomer)
	if !b.waitFor(`document.readyState === 'complete' && document.body.dataset.mark === undefined && document.body.innerText.includes('`+newcomer+`')`, 20*time.Second) {
		t.Fatal("the page did not reload itself with the newcomer within 20 s")
	}
	var kept struct {
		Search string `json:"search"`
		Input  string `json:"input"`
	}
	b.eval(`({search: location.search, input: document.querySelector('input[name=q]').value})`, &kept)
	dom = b.dom()
	if kept.Input != "c81fea83" || !strings.Contains(kept.Search, "q=c81fea83") || strings.Contains(dom, other) || !strings.Contains(dom, j179MAC) {
		t.Errorf("after the reload: query %q, search box %q, lists the other phone %v", kept.Search, kept.Input, strings.Contains(dom, other))
	}

	// The phone's page, from its MAC in the list.
	b.eval(`document.querySelector('#phone-list a[href="/phones/`+j179MAC+`"]').click(), true`, new(bool))
	if !b.waitFor(`location.pathname === '/phones/`+j179MAC+`' && document.readyState === 'complete'`, 15*time.Second) {
		t.Fatal("the MAC in the phone list does not lead to the phone's page")
	}
	dom = b.dom()
	facts := text(section(t, dom, "phone"))
	// It runs the newest firmware, but asked for one the tree lacks: failed.
	for _, want := range []string{"J179", "4.1.3.0.6", "failed", "FW_S_J179_R9_9_9_9_9.bin got 404", "127.0.0.1"} {
		if !strings.Contains(facts, want) {
			t.Errorf("the phone's page lacks %q: %s", want, facts)
		}
	}
	backups := text(section(t, dom, "backups"))
	for _, want := range []string{"backup stored (first)", "backup restored", "expected miss: an Avaya phone's first restore", "500"} {
		if !strings.Contains(backups, want) {
			t.Errorf("the phone's backups lack %q: %s", want, backups)
		}
	}
	files := text(section(t, dom, "files"))
	for _, want := range []string{"FW_S_J179_R4_1_3_0_6.bin", "000000000000.cfg", "expected miss: Polycom's master configuration file", "FW_S_J179_R9_9_9_9_9.bin firmware 404 10 Not Found"} {
		if !strings.Contains(files, want) {
			t.Errorf("the phone's files lack %q: %s", want, files)
		}
	}

	// No sideways scrolling; a screenshot of each page at each width.
	dir := artifactDir(t)
	for _, width := range []int{1280, 390} {
		b.resize(width, 900)
		for page, path := range map[string]string{"status": "/?refresh=0", "phone": "/phones/" + j179MAC + "?refresh=0"} {
			b.open(ta.admin + path)
			var m struct{ Scroll, Client int }
			b.eval(`({Scroll: document.documentElement.scrollWidth, Client: document.documentElement.clientWidth})`, &m)
			if m.Scroll > m.Client || m.Client == 0 {
				t.Errorf("%s at %d px scrolls sideways: scrollWidth %d > clientWidth %d", page, width, m.Scroll, m.Client)
			}
			shot := filepath.Join(dir, fmt.Sprintf("%s-%d.png", page, width))
			if png := b.screenshot(shot); len(png) < 10<<10 {
				t.Errorf("%s: %d bytes", shot, len(png))
			}
			t.Logf("%s at %d px: scrollWidth %d, clientWidth %d; screenshot %s", page, width, m.Scroll, m.Client, shot)
		}
	}
}

// waitFiles waits until the inventory has folded in at least n of the
// phone's requests.
func waitFiles(t *testing.T, ta *testAppliance, mac string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(ta.waitPhone(t, mac).Files) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: fewer than %d requests folded in", mac, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
