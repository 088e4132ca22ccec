package appliance

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/phoneprov/phoneprov/dhcpd"
	"github.com/phoneprov/phoneprov/provisioning/inventory"
	fwrollout "github.com/phoneprov/phoneprov/provisioning/rollout"
)

// leasedPhone is a J179 known to the appliance only by its lease: its
// User-Agent carries no MAC, so the file server's requests are tied to
// it by the address the lease gave it (a loopback address of its own).
type leasedPhone struct {
	mac  string
	addr netip.Addr
}

// agent is the phone's User-Agent on firmware version (the J179's form,
// without its MAC).
func agent(version string) string {
	return "Mozilla/4.0 (compatible; MSIE 6.0) AVAYA/J179-" + version
}

// get fetches name from the file server over proto (http or https) from
// the phone's own address, with the User-Agent of version; it returns
// the status and the body.
func (p leasedPhone) get(t *testing.T, ta *testAppliance, proto, name, version string) (int, string) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: p.addr.AsSlice()}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	defer tr.CloseIdleConnections()
	base := ta.http
	if proto == "https" {
		base = "https://" + ta.app.files.Addrs()["https"][0].String()
	}
	req, err := http.NewRequest(http.MethodGet, base+"/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", agent(version))
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s GET %s from %s: %v", proto, name, p.addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s GET %s: %v", proto, name, err)
	}
	return resp.StatusCode, string(body)
}

var appNameLine = regexp.MustCompile(`(?m)^SET APPNAME (\S+)`)

// appName fetches the J100 upgrade script as the phone and returns the
// APPNAME it names ("" for none).
func (p leasedPhone) appName(t *testing.T, ta *testAppliance, proto, version string) string {
	t.Helper()
	code, body := p.get(t, ta, proto, "J100Supgrade.txt", version)
	if code != http.StatusOK {
		t.Fatalf("J100Supgrade.txt for %s: %d", p.mac, code)
	}
	names := appNameLine.FindAllStringSubmatch(body, -1)
	if len(names) == 0 {
		return ""
	}
	// The J179's line is the one the script reaches for MODEL4 J179;
	// the tree holds J179 images only, so every APPNAME is the same.
	return names[0][1]
}

// adminPost sends a JSON command to the admin API and decodes the reply.
func (ta *testAppliance) adminPost(t *testing.T, path string, body any, out any) int {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, ta.admin+path, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if ta.adminToken != "" {
		req.Header.Set("Authorization", "Bearer "+ta.adminToken)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("POST %s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode
}

// form posts an HTML form to the admin listener as a browser would,
// with the Sec-Fetch-Site it names; it returns the status (redirects are
// not followed) and the body.
func (ta *testAppliance) form(t *testing.T, path string, values url.Values, site string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ta.admin+path, strings.NewReader(values.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", site)
	c := http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitRollout polls /api/rollouts until cond holds for the newest one.
func (ta *testAppliance) waitRollout(t *testing.T, what string, cond func(r fwrollout.Rollout) bool) fwrollout.Rollout {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := ta.get(t, "/api/rollouts")
		var list []fwrollout.Rollout
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("/api/rollouts: %v: %s", err, body)
		}
		if len(list) > 0 && cond(list[0]) {
			return list[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("roll-out never %s: %s", what, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRolloutThroughTheFileServer runs a roll-out of J179 firmware
// 4.1.3.0.6 → 4.1.4.0.1 through the appliance's real file server and
// admin API, with four J179s the appliance knows only by their leases:
// the new image copied into the tree is held (every phone is still named
// the old one) until the roll-out starts; the canary gets the new APPNAME over HTTP and HTTPS while the others
// keep their running firmware; an operator's own J100Supgrade.txt wins
// over both; pause withholds the image from the canary that has not
// fetched it, resume offers it again; once the canary downloads it and
// comes back reporting it, the next wave takes one more phone; abort
// leaves the image to the upgraded canary only; finish then ends it
// without releasing the version (still held), and a release gives every
// phone the new image.
func TestRolloutThroughTheFileServer(t *testing.T) {
	ta := startAppliance(t, "[provisioning.rollout]\ncheck_interval = \"20ms\"")
	const (
		oldV, newV   = "4.1.3.0.6", "4.1.4.0.1"
		oldFW, newFW = "FW_S_J179_R4_1_3_0_6.bin", "FW_S_J179_R4_1_4_0_1.bin"
	)
	var phones []leasedPhone
	for i := range 4 {
		p := leasedPhone{mac: fmt.Sprintf("c8:1f:ea:00:00:%02x", i+1), addr: netip.AddrFrom4([4]byte{127, 0, 0, byte(21 + i)})}
		hw, _ := net.ParseMAC(p.mac)
		ta.app.inventory.ObserveLease(dhcpd.LeaseEvent{Kind: dhcpd.Acked, Time: time.Now(), MAC: hw, Addr: p.addr,
			VendorClass: "ccp.avaya.com", Hostname: "AVL" + strings.ReplaceAll(p.mac[9:], ":", "")})
		phones = append(phones, p)
	}
	// Every phone boots on the old firmware: the tree holds nothing newer.
	for _, p := range phones {
		if got := p.appName(t, ta, "http", oldV); got != oldFW {
			t.Fatalf("%s before the roll-out: APPNAME %q, want %s", p.mac, got, oldFW)
		}
	}
	for _, p := range phones {
		m, _ := inventory.ParseMAC(p.mac)
		deadline := time.Now().Add(10 * time.Second)
		for {
			ph, ok := ta.app.inventory.Get(m)
			if ok && ph.Firmware == oldV && ph.Model == "J179" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the inventory does not know %s on %s by its lease: %+v", p.mac, oldV, ph)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// The new image arrives: it is held, so every phone is still named
	// the old one, and the API and the status page say so.
	if err := os.WriteFile(filepath.Join(ta.filesDir, newFW), bytes.Repeat([]byte("new J179 firmware "), 256), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := ta.get(t, "/api/rollouts/held")
		var held []fwrollout.Held
		if err := json.Unmarshal([]byte(body), &held); err != nil {
			t.Fatalf("/api/rollouts/held: %v: %s", err, body)
		}
		if len(held) == 1 && held[0].Version == newV && held[0].Released == oldV {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new image is never listed as held: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range phones {
		if got := p.appName(t, ta, "http", oldV); got != oldFW {
			t.Errorf("%s with %s held: APPNAME %q, want %s", p.mac, newFW, got, oldFW)
		}
	}
	if _, page := ta.get(t, "/"); !strings.Contains(section(t, page, "rollouts"), "Held: J100 "+newV) {
		t.Errorf("the roll-out section does not list the held version:\n%s", section(t, page, "rollouts"))
	}

	// The roll-out starts, canary = the first phone.
	deadline = time.Now().Add(10 * time.Second)
	var started fwrollout.Rollout
	for ta.adminPost(t, "/api/rollouts", fwrollout.StartRequest{Model: "J179", Version: newV,
		Canary: fwrollout.Canary{MACs: []string{phones[0].mac}}, Waves: []float64{0.5, 1}}, &started) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the roll-out did not start (the new image was never in the catalogue)")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, proto := range []string{"http", "https"} {
		for i, p := range phones {
			want := oldFW
			if i == 0 {
				want = newFW
			}
			if got := p.appName(t, ta, proto, oldV); got != want {
				t.Errorf("%s %s in the canary wave: APPNAME %q, want %s", proto, p.mac, got, want)
			}
		}
	}

	// An operator's own upgrade script wins over the roll-out.
	own := filepath.Join(ta.filesDir, "J100Supgrade.txt")
	if err := os.WriteFile(own, []byte("SET APPNAME operator_choice.bin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []leasedPhone{phones[0], phones[1]} {
		deadline := time.Now().Add(10 * time.Second)
		for got := p.appName(t, ta, "http", oldV); got != "operator_choice.bin"; got = p.appName(t, ta, "http", oldV) {
			if time.Now().After(deadline) {
				t.Fatalf("%s with the operator's own script: APPNAME %q", p.mac, got)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if err := os.Remove(own); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for got := phones[0].appName(t, ta, "http", oldV); got != newFW; got = phones[0].appName(t, ta, "http", oldV) {
		if time.Now().After(deadline) {
			t.Fatalf("the canary after the operator's script went: APPNAME %q", got)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Pause: the canary has not fetched the image, so it is withheld.
	var r fwrollout.Rollout
	if code := ta.adminPost(t, "/api/rollouts/0/pause", struct{}{}, &r); code != http.StatusOK || r.Status != fwrollout.StatusPaused {
		t.Fatalf("pause: %d, %s", code, r.Status)
	}
	if got := phones[0].appName(t, ta, "http", oldV); got != oldFW {
		t.Errorf("the canary while paused: APPNAME %q, want %s", got, oldFW)
	}
	if code := ta.adminPost(t, "/api/rollouts/0/pause", struct{}{}, nil); code != http.StatusConflict {
		t.Errorf("pausing a paused roll-out: %d, want 409", code)
	}
	if code := ta.adminPost(t, "/api/rollouts/0/resume", struct{}{}, &r); code != http.StatusOK || r.Status != fwrollout.StatusRunning {
		t.Fatalf("resume: %d, %s", code, r.Status)
	}

	// The status page's buttons: a form posted from the page pauses and
	// resumes; one posted from another site is refused; a bad start form
	// says why.
	_, page := ta.get(t, "/")
	if sec := section(t, page, "rollouts"); !strings.Contains(sec, `action="/rollouts/1/pause"`) || !strings.Contains(sec, `action="/rollouts"`) {
		t.Errorf("the roll-out section has no pause button or start form:\n%s", sec)
	}
	if code, _ := ta.form(t, "/rollouts/1/pause", nil, "cross-site"); code != http.StatusForbidden {
		t.Errorf("a cross-site pause: %d, want 403", code)
	}
	ta.waitRollout(t, "stayed running after a cross-site pause", func(r fwrollout.Rollout) bool { return r.Status == fwrollout.StatusRunning })
	if code, _ := ta.form(t, "/rollouts/1/pause", nil, "same-origin"); code != http.StatusSeeOther {
		t.Errorf("pause from the page: %d, want 303", code)
	}
	ta.waitRollout(t, "paused from the page", func(r fwrollout.Rollout) bool { return r.Status == fwrollout.StatusPaused })
	if code, body := ta.form(t, "/rollouts/1/pause", nil, "same-origin"); code != http.StatusConflict || !strings.Contains(body, "only a running roll-out pauses") {
		t.Errorf("pausing a paused roll-out from the page: %d %q", code, body)
	}
	if code, _ := ta.form(t, "/rollouts/1/resume", nil, "same-origin"); code != http.StatusSeeOther {
		t.Errorf("resume from the page: %d, want 303", code)
	}
	bad := url.Values{"target": {"J179"}, "version": {newV}, "canary": {"1"}, "waves": {"50%,90%"}}
	if code, body := ta.form(t, "/rollouts", bad, "same-origin"); code != http.StatusBadRequest || !strings.Contains(body, "the last wave must be 100") {
		t.Errorf("a start form with bad waves: %d %q", code, body)
	}
	bad.Set("waves", "100%")
	if code, body := ta.form(t, "/rollouts", bad, "same-origin"); code != http.StatusConflict || !strings.Contains(body, "is in force") {
		t.Errorf("a second roll-out of the same model from the page: %d %q", code, body)
	}
	ta.waitRollout(t, "running again", func(r fwrollout.Rollout) bool { return r.Status == fwrollout.StatusRunning })

	// The canary takes the image and comes back on it: upgraded, and the
	// next wave (50 % of four) adds the first phone by MAC order.
	if got := phones[0].appName(t, ta, "https", oldV); got != newFW {
		t.Fatalf("the canary after resume: APPNAME %q", got)
	}
	if code, _ := phones[0].get(t, ta, "https", newFW, oldV); code != http.StatusOK {
		t.Fatalf("the canary's download: %d", code)
	}
	ta.waitRollout(t, "saw the canary's download", func(r fwrollout.Rollout) bool {
		return r.Members[phones[0].mac] != nil && r.Members[phones[0].mac].State == fwrollout.PhoneFetched
	})
	phones[0].appName(t, ta, "https", newV)
	r = ta.waitRollout(t, "started wave 1", func(r fwrollout.Rollout) bool { return r.Wave == 1 })
	if m := r.Members[phones[0].mac]; m.State != fwrollout.PhoneUpgraded {
		t.Errorf("the canary is %s (%s), want upgraded", m.State, m.Reason)
	}
	if len(r.Members) != 2 || r.Members[phones[1].mac] == nil {
		t.Fatalf("wave 1 members: %v, want the canary and %s", r.Members, phones[1].mac)
	}
	for i, p := range phones {
		version, want := oldV, oldFW
		switch i {
		case 0:
			version, want = newV, newFW
		case 1:
			want = newFW
		}
		if got := p.appName(t, ta, "http", version); got != want {
			t.Errorf("%s in wave 1: APPNAME %q, want %s", p.mac, got, want)
		}
	}

	// The status page shows the roll-out: its wave, phones per state, ETA.
	_, page = ta.get(t, "/")
	sec := section(t, page, "rollouts")
	for _, want := range []string{"model J179", newV, "running", "1 of 2 (50 %)", "at the pace so far", `data-label="Upgraded">1<`, `data-label="Pending">1<`} {
		if !strings.Contains(sec, want) {
			t.Errorf("the roll-out section lacks %q:\n%s", want, sec)
		}
	}

	// Abort: the upgraded canary keeps the image, everyone else is
	// offered the old firmware again.
	if code := ta.adminPost(t, "/api/rollouts/0/abort", struct{}{}, &r); code != http.StatusOK || r.Status != fwrollout.StatusAborted {
		t.Fatalf("abort: %d, %s", code, r.Status)
	}
	if got := phones[0].appName(t, ta, "http", newV); got != newFW {
		t.Errorf("the upgraded canary after abort: APPNAME %q, want %s", got, newFW)
	}
	if got := phones[1].appName(t, ta, "http", oldV); got != oldFW {
		t.Errorf("%s (pending) after abort: APPNAME %q, want %s", phones[1].mac, got, oldFW)
	}

	// Finishing the aborted roll-out ends it without releasing the
	// version: still held, the old image for every phone; a release then
	// gives every phone the new one and nothing is held. The status page
	// keeps the ended roll-out.
	if code := ta.adminPost(t, "/api/rollouts/0/finish", struct{}{}, &r); code != http.StatusOK || r.Status != fwrollout.StatusFinished {
		t.Fatalf("finish: %d, %s", code, r.Status)
	}
	for _, p := range []leasedPhone{phones[0], phones[3]} {
		if got := p.appName(t, ta, "http", oldV); got != oldFW {
			t.Errorf("%s after finishing the aborted roll-out: APPNAME %q, want %s", p.mac, got, oldFW)
		}
	}
	var released map[string]string
	if code := ta.adminPost(t, "/api/rollouts/release", map[string]string{"series": "J100", "version": newV}, &released); code != http.StatusOK || released["J100"] != newV {
		t.Fatalf("release: %d, %v", code, released)
	}
	if got := phones[3].appName(t, ta, "http", oldV); got != newFW {
		t.Errorf("%s after the release: APPNAME %q, want %s", phones[3].mac, got, newFW)
	}
	if _, body := ta.get(t, "/api/rollouts/held"); strings.TrimSpace(body) != "null" && strings.TrimSpace(body) != "[]" {
		t.Errorf("held after the release: %s", body)
	}
	if code := ta.adminPost(t, "/api/rollouts/1/resume", struct{}{}, nil); code != http.StatusConflict {
		t.Errorf("resuming a finished roll-out: %d, want 409", code)
	}
}
