package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/phoneprov/phoneprov/cmd/internal/config"
	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/admin"
	"github.com/phoneprov/phoneprov/provisioning/rollout"
)

const rolloutUsage = `usage: phoneprov rollout [-c FILE] start [--canary N|MAC,MAC…|group:N] [--waves 10%,50%,100%] SERIES|MODEL VERSION
       phoneprov rollout [-c FILE] status
       phoneprov rollout [-c FILE] pause|resume|abort|finish [ID]
       phoneprov rollout [-c FILE] release SERIES VERSION`

// defineRolloutStart defines the options of `rollout start`.
func defineRolloutStart(fs *flag.FlagSet, canary, waves *string) {
	fs.StringVar(canary, "canary", "1", "the first wave: a number of phones, a list of MACs, or group:N")
	fs.StringVar(waves, "waves", "10%,50%,100%", "the waves after the canary, cumulative shares of the target's phones")
}

// rolloutFlags is every option of the rollout command, for its help.
func rolloutFlags(canary, waves *string) *flag.FlagSet {
	fs := flag.NewFlagSet("rollout", flag.ContinueOnError)
	fs.String("c", "", "the configuration file")
	defineRolloutStart(fs, canary, waves)
	return fs
}

// cmdRollout drives the running appliance's firmware roll-outs through
// its admin API (with the configured token).
func (e env) cmdRollout(ctx context.Context, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		printUsage(e.stdout, "rollout", rolloutFlags(new(string), new(string)))
		return nil
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-c" {
		fmt.Fprintln(e.stderr, rolloutUsage)
		return errUsage
	}
	// -c FILE may come before the subcommand.
	var pre []string
	if args[0] == "-c" && len(args) >= 3 {
		// A copy: appending to a slice of args would overwrite the
		// subcommand and its arguments.
		pre, args = slices.Clone(args[:2]), args[2:]
	}
	sub, rest := args[0], append(pre, args[1:]...)
	var canary, waves string
	c, err := e.parseCommand("rollout "+sub, rest, 2, func(fs *flag.FlagSet) {
		if sub == "start" {
			defineRolloutStart(fs, &canary, &waves)
		}
	})
	if err != nil {
		return err
	}
	switch sub {
	case "start":
		return e.rolloutStart(ctx, c, canary, waves)
	case "status":
		var list []rollout.Rollout
		if err := getAdminJSON(ctx, c.cfg, "/api/rollouts", &list); err != nil {
			return fmt.Errorf("asking the running appliance: %w", err)
		}
		var held []rollout.Held
		if err := getAdminJSON(ctx, c.cfg, "/api/rollouts/held", &held); err != nil {
			return fmt.Errorf("asking the running appliance: %w", err)
		}
		e.printRollouts(list)
		e.printHeld(held)
		return nil
	case "release":
		return e.rolloutRelease(ctx, c)
	case "pause", "resume", "abort", "finish":
		id := 0
		if len(c.args) == 1 {
			if id, err = strconv.Atoi(c.args[0]); err != nil {
				return fmt.Errorf("%q is not a roll-out id", c.args[0])
			}
		}
		var r rollout.Rollout
		if err := postAdminJSON(ctx, c.cfg, fmt.Sprintf("/api/rollouts/%d/%s", id, sub), struct{}{}, &r); err != nil {
			return err
		}
		e.printRollouts([]rollout.Rollout{r})
		return nil
	}
	fmt.Fprintln(e.stderr, rolloutUsage)
	return errUsage
}

func (e env) rolloutStart(ctx context.Context, c command, canary, waves string) error {
	if len(c.args) != 2 {
		fmt.Fprintln(e.stderr, rolloutUsage)
		return errUsage
	}
	req, err := rollout.ParseStart(c.args[0], c.args[1], canary, waves)
	if err != nil {
		return err
	}
	var r rollout.Rollout
	if err := postAdminJSON(ctx, c.cfg, "/api/rollouts", req, &r); err != nil {
		return err
	}
	e.printRollouts([]rollout.Rollout{r})
	return nil
}

func (e env) printRollouts(list []rollout.Rollout) {
	if len(list) == 0 {
		fmt.Fprintln(e.stdout, "no roll-outs")
		return
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTARGET\tVERSION\tSTATUS\tWAVE\tPENDING\tFETCHED\tUPGRADED\tFAILED\tABSENT\tUPDATED")
	for _, r := range list {
		n := r.Counts()
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d/%d\t%d\t%d\t%d\t%d\t%d\t%s\n", r.ID, r.Target(), r.Version, r.Status, r.Wave, len(r.Waves),
			n[rollout.PhonePending], n[rollout.PhoneFetched], n[rollout.PhoneUpgraded], n[rollout.PhoneFailed], n[rollout.PhoneAbsent],
			r.Updated.In(e.loc).Format(time.DateTime))
	}
	tw.Flush()
	for _, r := range list {
		if r.Reason != "" {
			fmt.Fprintf(e.stdout, "%d: %s\n", r.ID, r.Reason)
		}
	}
}

func (e env) rolloutRelease(ctx context.Context, c command) error {
	if len(c.args) != 2 {
		fmt.Fprintln(e.stderr, rolloutUsage)
		return errUsage
	}
	var released map[string]string
	if err := postAdminJSON(ctx, c.cfg, "/api/rollouts/release", admin.ReleaseRequest{Series: c.args[0], Version: c.args[1]}, &released); err != nil {
		return err
	}
	for _, line := range slices.Sorted(maps.Keys(released)) {
		fmt.Fprintf(e.stdout, "released %s %s: every phone of it may be offered it now\n", line, released[line])
	}
	return nil
}

// printHeld lists the firmware held until a roll-out, with the commands
// that roll it out or release it.
func (e env) printHeld(held []rollout.Held) {
	for _, h := range held {
		start, release := h.Commands()
		keep := h.Released
		if keep == "" {
			keep = "what they run"
		}
		by := "no phone is offered it"
		if h.Rollout != 0 {
			by = fmt.Sprintf("roll-out %d offers it to its waves only", h.Rollout)
		}
		fmt.Fprintf(e.stdout, "held: %s %s (%s): %s; phones keep %s. Roll it out: %s; release it at once: %s\n",
			h.Line, h.Version, strings.Join(h.Files, ", "), by, keep, start, release)
	}
}

// postAdminJSON sends a command to the running appliance's admin API.
func postAdminJSON(ctx context.Context, cfg config.Config, path string, body, v any) error {
	if cfg.Admin.Listen == "" {
		return errors.New("the admin listener is off: roll-outs are driven through it")
	}
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+cfg.Admin.Listen+path, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	cfg.Admin.Authorize(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("asking the running appliance: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("admin API %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(out, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("admin API %s: %s", path, resp.Status)
	}
	return json.Unmarshal(out, v)
}
