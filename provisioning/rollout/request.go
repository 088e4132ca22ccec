package rollout

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/phoneprov/phoneprov/provisioning/firmware"
)

// ParseStart reads an operator's start command as people write it, for
// the command line and the status page: target a series (96x1S, J100,
// …) or else a MODEL4 value (J179), the version, canary a number of
// phones, a list of MACs or "group:N", waves like "10%,50%,100%".
func ParseStart(target, version, canary, waves string) (StartRequest, error) {
	target, version = strings.TrimSpace(target), strings.TrimSpace(version)
	if target == "" || version == "" {
		return StartRequest{}, errors.New("give a series or model and a version")
	}
	req := StartRequest{Version: version}
	if s, ok := firmware.ParseSeries(target); ok {
		req.Series = string(s)
	} else {
		req.Model = strings.ToUpper(target)
	}
	var err error
	if req.Waves, err = ParseWaves(waves); err != nil {
		return StartRequest{}, fmt.Errorf("waves: %w", err)
	}
	if req.Canary, err = ParseCanary(canary); err != nil {
		return StartRequest{}, err
	}
	return req, nil
}

// ParseCanary reads a canary: a number of phones, "group:N", or a list of
// MACs separated by commas.
func ParseCanary(s string) (Canary, error) {
	s = strings.TrimSpace(s)
	if g, ok := strings.CutPrefix(s, "group:"); ok {
		n, err := strconv.Atoi(g)
		if err != nil || n < 1 || n > 999 {
			return Canary{}, fmt.Errorf("canary group:%s: a group is 1..999", g)
		}
		return Canary{Group: n}, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 {
			return Canary{}, errors.New("canary: at least one phone")
		}
		return Canary{Count: n}, nil
	}
	var macs []string
	for m := range strings.SplitSeq(s, ",") {
		if m = strings.TrimSpace(m); m != "" {
			macs = append(macs, m)
		}
	}
	if len(macs) == 0 {
		return Canary{}, errors.New("canary: give a number of phones, a list of MACs or group:N")
	}
	return Canary{MACs: macs}, nil
}

// Commands lists the operator's commands r's status allows, for buttons.
func (r *Rollout) Commands() []Command {
	switch r.Status {
	case StatusRunning:
		return []Command{Pause, Abort, Finish}
	case StatusPaused, StatusBraked:
		return []Command{Resume, Abort, Finish}
	case StatusDone:
		return []Command{Finish, Abort}
	case StatusAborted:
		return []Command{Finish}
	}
	return nil
}
