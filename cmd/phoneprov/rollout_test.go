package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rollout status lists the firmware held until a roll-out with the
// commands that release it; rollout release asks the appliance to
// release a version at once.
func TestRolloutStatusListsHeldAndRelease(t *testing.T) {
	var released []string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method + " " + r.URL.Path {
		case "GET /api/rollouts":
			fmt.Fprint(w, `[]`)
		case "GET /api/rollouts/held":
			fmt.Fprint(w, `[{"line":"96x1S","series":"96x1S","version":"7.1.15.0.4","files":["S96x1_SALBR7_1_15_0_4_r.tar"],"released":"7.1.2.0.14"}]`)
		case "POST /api/rollouts/release":
			var req struct{ Series, Version string }
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			released = append(released, req.Series+" "+req.Version)
			fmt.Fprintf(w, `{%q:%q}`, req.Series, req.Version)
		default:
			http.NotFound(w, r)
		}
	}))
	defer api.Close()
	cfg := writeConfig(t, fmt.Sprintf("data_dir = %q\n[admin]\nlisten = %q\n", t.TempDir(), strings.TrimPrefix(api.URL, "http://")))

	code, out, errs := testRun(t, noPackaged(t), "rollout", "-c", cfg, "status")
	want := "held: 96x1S 7.1.15.0.4 (S96x1_SALBR7_1_15_0_4_r.tar): no phone is offered it; phones keep 7.1.2.0.14. " +
		"Roll it out: phoneprov rollout start 96x1S 7.1.15.0.4; release it at once: phoneprov rollout release 96x1S 7.1.15.0.4"
	if code != 0 || !strings.Contains(out, want) {
		t.Errorf("status: exit %d\n%s%s\nwant %q", code, out, errs, want)
	}
	code, out, errs = testRun(t, noPackaged(t), "rollout", "-c", cfg, "release", "96x1S", "7.1.15.0.4")
	if code != 0 || len(released) != 1 || released[0] != "96x1S 7.1.15.0.4" || !strings.Contains(out, "released 96x1S 7.1.15.0.4") {
		t.Errorf("release: exit %d, asked %v\n%s%s", code, released, out, errs)
	}
}

// render shows the held state the appliance left: the released image,
// and a comment naming the held one; with hold_new_firmware off, the
// newest.
func TestRenderShowsHeldFirmware(t *testing.T) {
	data := t.TempDir()
	files := filepath.Join(data, "files")
	const oldFW, newFW = "S96x1_SALBR7_1_2_0_14_r.tar", "S96x1_SALBR7_1_15_0_4_r.tar"
	for _, p := range []string{filepath.Join(files, oldFW), filepath.Join(files, newFW), filepath.Join(data, "rollouts", "state.json")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		body := "fw"
		if filepath.Base(p) == "state.json" {
			body = `{"next_id":0,"rollouts":[],"released":{"96x1S":"7.1.2.0.14"}}`
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		extra, want string
		held        bool
	}{{"", oldFW, true}, {"[provisioning.rollout]\nhold_new_firmware = false\n", newFW, false}} {
		cfg := writeConfig(t, fmt.Sprintf("data_dir = %q\n%s", data, c.extra))
		for _, args := range [][]string{{"--mac", "00:1b:4f:00:00:01", "96x1Supgrade.txt"}, {"96x1Supgrade.txt"}} {
			code, out, errs := testRun(t, noPackaged(t), append([]string{"render", "-c", cfg}, args...)...)
			if code != 0 || !strings.Contains(out, "SET APPNAME "+c.want) || strings.Contains(out, "held until a roll-out releases it: "+newFW) != c.held {
				t.Errorf("render %v (%q): exit %d, want APPNAME %s, held %v:\n%s%s", args, c.extra, code, c.want, c.held, out, errs)
			}
		}
	}
}
