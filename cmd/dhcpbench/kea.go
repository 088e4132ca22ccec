package main

import (
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// keaDaemon runs ISC Kea's kea-dhcp4 with the memfile lease database.
type keaDaemon struct {
	name    string // "kea", or "kea-mt" with threads set
	bin     string
	plan    plan
	threads int // 0: Kea's own default (multi-threading off in 2.2)
}

func (d keaDaemon) Name() string { return d.name }

func (d keaDaemon) Version(ctx context.Context) string {
	return "kea-dhcp4 " + benchkit.ToolVersion(ctx, d.bin, "-v")
}

func (d keaDaemon) Storage() string {
	return "memfile CSV `leases4.csv` (persist: true, lfc-interval: 0): each lease change is appended " +
		"with write(2) before the reply, never fsync'd, so an ACKed lease can be lost with the page cache on power loss"
}

func (d keaDaemon) Prepare(dir, iface string) (launch, error) {
	cfg := filepath.Join(dir, "kea-dhcp4.json")
	leases := filepath.Join(dir, "leases4.csv")
	text, err := renderKea(d.plan, iface, leases, d.threads)
	if err != nil {
		return launch{}, err
	}
	if err := os.WriteFile(cfg, text, 0o644); err != nil {
		return launch{}, fmt.Errorf("kea: write config: %w", err)
	}
	return launch{
		Argv: []string{d.bin, "-c", cfg},
		// Kea puts its pid file and logger lock under /run/kea unless told.
		Env:        []string{"KEA_PIDFILE_DIR=" + dir, "KEA_LOCKFILE_DIR=" + dir},
		ConfigPath: cfg,
		LeaseFile:  leases,
	}, nil
}

// Leases counts the live leases in the memfile CSV.
func (d keaDaemon) Leases(_ context.Context, in *instance) (int, error) {
	f, err := os.Open(in.launch.LeaseFile)
	if err != nil {
		return 0, fmt.Errorf("kea leases: %w", err)
	}
	defer f.Close()
	return countKeaLeases(f)
}

// renderKea writes the kea-dhcp4 configuration. Option 242 is defined as a
// string and sent as hex (csv-format false), so the commas in the Avaya
// string need no escaping. T1/T2 are computed at 50 % and 87.5 % like
// phoneprov's and dnsmasq's defaults. Traffic arrives relayed (perfdhcp
// acts as a relay agent), for which Kea recommends UDP sockets.
func renderKea(p plan, iface, leaseFile string, threads int) ([]byte, error) {
	dhcp4 := map[string]any{
		"interfaces-config": map[string]any{"interfaces": []string{iface}, "dhcp-socket-type": "udp"},
		"lease-database": map[string]any{
			"type": "memfile", "persist": true, "name": leaseFile, "lfc-interval": 0,
		},
		"valid-lifetime":      int(p.LeaseTime.Seconds()),
		"calculate-tee-times": true,
		"t1-percent":          0.5,
		"t2-percent":          0.875,
		"option-def": []any{
			map[string]any{"name": "avaya-242", "code": 242, "type": "string", "space": "dhcp4"},
		},
		"client-classes": []any{map[string]any{
			"name": "avaya",
			"test": fmt.Sprintf("option[60].text == '%s'", p.VendorClass),
			"option-data": []any{map[string]any{
				"name": "avaya-242", "code": 242, "space": "dhcp4",
				"csv-format": false, "data": hex.EncodeToString([]byte(p.option242())),
			}},
		}},
		"subnet4": []any{map[string]any{
			"id": 1, "subnet": p.Subnet.String(),
			"pools":       []any{map[string]any{"pool": p.PoolStart.String() + " - " + p.PoolEnd.String()}},
			"option-data": []any{map[string]any{"name": "routers", "data": p.ServerAddr.Addr().String()}},
		}},
		"loggers": []any{map[string]any{
			"name": "kea-dhcp4", "severity": "WARN",
			"output_options": []any{map[string]any{"output": "stderr"}},
		}},
	}
	if threads > 0 {
		dhcp4["multi-threading"] = map[string]any{
			"enable-multi-threading": true, "thread-pool-size": threads, "packet-queue-size": 64,
		}
	}
	b, err := json.MarshalIndent(map[string]any{"Dhcp4": dhcp4}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("kea: render config: %w", err)
	}
	return append(b, '\n'), nil
}

// countKeaLeases reads a memfile lease4 CSV, where every change appends a
// row and the last row for an address wins, and counts the addresses whose
// last row is a live lease (valid lifetime > 0, state 0 = default).
func countKeaLeases(r io.Reader) (int, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("kea csv header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, need := range []string{"address", "valid_lifetime", "state"} {
		if _, ok := col[need]; !ok {
			return 0, fmt.Errorf("kea csv: no %q column in %v", need, header)
		}
	}
	live := map[string]bool{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("kea csv: %w", err)
		}
		if len(rec) <= max(col["address"], col["valid_lifetime"], col["state"]) {
			continue // a row cut short by a concurrent append
		}
		valid, verr := strconv.ParseInt(rec[col["valid_lifetime"]], 10, 64)
		state, serr := strconv.Atoi(rec[col["state"]])
		live[rec[col["address"]]] = verr == nil && serr == nil && valid > 0 && state == 0
	}
	n := 0
	for _, ok := range live {
		if ok {
			n++
		}
	}
	return n, nil
}
