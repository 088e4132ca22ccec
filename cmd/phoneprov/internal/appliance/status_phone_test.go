package appliance

import (
	"encoding/json"
	"net/http"
	"testing"
)

// /api/phones/{mac} returns one phone, the MAC written any way; a bad
// MAC is 400, an unknown one 404; its page answers the same.
func TestAPIPhoneByMAC(t *testing.T) {
	ta := startAppliance(t, "")
	ta.fetch(t, "J100Supgrade.txt", j179Agent)
	ta.waitPhone(t, j179MAC)
	for _, mac := range []string{j179MAC, "C8-1F-EA-83-E8-5A", "c81fea83e85a"} {
		code, body := ta.get(t, "/api/phones/"+mac)
		var p struct {
			MAC   string `json:"mac"`
			Model string `json:"model"`
			State string `json:"state"`
			Files []struct {
				Name string `json:"name"`
			} `json:"files"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &p) != nil || p.MAC != j179MAC || p.Model != "J179" || p.State != "up_to_date" ||
			len(p.Files) != 1 || p.Files[0].Name != "J100Supgrade.txt" {
			t.Errorf("/api/phones/%s: %d %s", mac, code, body)
		}
	}
	for path, want := range map[string]int{
		"/api/phones/not-a-mac": 400, "/api/phones/02:00:00:00:00:01": 404,
		"/phones/not-a-mac": 400, "/phones/02:00:00:00:00:01": 404, "/phones/" + j179MAC: 200,
	} {
		if code, body := ta.get(t, path); code != want {
			t.Errorf("%s: %d, want %d: %s", path, code, want, body)
		}
	}
}
