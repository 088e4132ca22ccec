package rollout

import (
	"slices"
	"testing"
)

func TestParseStart(t *testing.T) {
	req, err := ParseStart(" 96x1s ", "7.1.15", "5", "10%,50%,100%")
	if err != nil || req.Series != "96x1S" || req.Model != "" || req.Canary.Count != 5 || len(req.Waves) != 3 {
		t.Fatalf("series: %+v, %v", req, err)
	}
	req, err = ParseStart("j179", "4.1.4", "c8:1f:ea:00:00:01, C81FEA000002", "100%")
	if err != nil || req.Model != "J179" || req.Series != "" || !slices.Equal(req.Canary.MACs, []string{"c8:1f:ea:00:00:01", "C81FEA000002"}) {
		t.Fatalf("model: %+v, %v", req, err)
	}
	if req, err := ParseStart("J100", "4.1.4", "group:12", "1"); err != nil || req.Canary.Group != 12 || req.Series != "J100" {
		t.Fatalf("group: %+v, %v", req, err)
	}
	for _, bad := range [][4]string{
		{"", "7.1.15", "1", "100%"},
		{"96x1S", "", "1", "100%"},
		{"96x1S", "7.1.15", "0", "100%"},
		{"96x1S", "7.1.15", "group:0", "100%"},
		{"96x1S", "7.1.15", " , ", "100%"},
		{"96x1S", "7.1.15", "1", "50%"},
	} {
		if _, err := ParseStart(bad[0], bad[1], bad[2], bad[3]); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestButtonsAreTheCommandsTheStatusAllows: Commands lists exactly the
// commands that succeed in each status.
func TestButtonsAreTheCommandsTheStatusAllows(t *testing.T) {
	for _, st := range []Status{StatusRunning, StatusPaused, StatusBraked, StatusDone, StatusAborted, StatusFinished} {
		listed := (&Rollout{Status: st}).Commands()
		for _, c := range []Command{Pause, Resume, Abort, Finish} {
			r := &Rollout{Status: st, Members: map[string]*Member{}}
			var err error
			switch c {
			case Pause:
				err = r.Pause(t0)
			case Resume:
				err = r.Resume(t0)
			case Abort:
				err = r.Abort(t0)
			case Finish:
				err = r.Finish(t0)
			}
			if (err == nil) != slices.Contains(listed, c) {
				t.Errorf("%s: %s allowed %v, listed %v", st, c, err == nil, listed)
			}
		}
	}
}
