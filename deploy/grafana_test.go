package deploy_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/phoneprov/phoneprov/deploy/internal/deploytest"
)

// TestAlertRules checks deploy/grafana/phoneprov-alerts.yml with promtool
// (syntax, then the unit tests in phoneprov-alerts.test.yml), and that its
// expressions name only metrics phoneprov exports.
func TestAlertRules(t *testing.T) {
	deploytest.NeedTools(t, "promtool")
	dir := filepath.Join(deploytest.RepoRoot(t), "deploy", "grafana")
	rules := filepath.Join(dir, "phoneprov-alerts.yml")
	t.Log(deploytest.Run(t, time.Minute, "promtool", "check", "rules", rules))
	t.Log(deploytest.Run(t, 2*time.Minute, "promtool", "test", "rules", filepath.Join(dir, "phoneprov-alerts.test.yml")))

	text, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	alerts := regexp.MustCompile(`(?m)^\s*- alert: (\S+)`).FindAllStringSubmatch(string(text), -1)
	var names []string
	for _, m := range alerts {
		names = append(names, m[1])
	}
	for _, want := range []string{"PhoneprovPoolNearlyFull", "PhoneprovLeaseStoreFailing", "PhoneprovFileServer5xx", "PhoneprovTLSHandshakeFailures"} {
		if !slices.Contains(names, want) {
			t.Errorf("no alert %s (alerts: %v)", want, names)
		}
	}
	exprs := ruleExprs(string(text))
	if len(exprs) != len(names) {
		t.Fatalf("%d expressions for %d alerts: %q", len(exprs), len(names), exprs)
	}
	checkExprMetrics(t, exportedMetrics(t), exprs)
	// The pool-full alert compares free addresses with the pool size
	// series, not with a "total" among the states.
	for i, n := range names {
		if n == "PhoneprovPoolNearlyFull" && !slices.Contains(exprMetrics(exprs[i]), "phoneprov_dhcp_pool_size") {
			t.Errorf("PhoneprovPoolNearlyFull does not use phoneprov_dhcp_pool_size: %q", exprs[i])
		}
	}
}

// TestDashboard checks deploy/grafana/phoneprov-dashboard.json: valid JSON
// in Grafana's dashboard shape (unique panel ids, a grid 24 wide, every
// panel on the dashboard's data source variable), every PromQL expression
// accepted by promtool and naming only metrics phoneprov exports, and the
// topics it is for (pools and their sizes, leases, requests by status and
// their duration, transfers, phones by state and firmware, the build) all
// present.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deploytest.RepoRoot(t), "deploy", "grafana", "phoneprov-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	if d.Title == "" || d.UID == "" || d.SchemaVersion == 0 {
		t.Errorf("title %q, uid %q, schemaVersion %d: all three are needed", d.Title, d.UID, d.SchemaVersion)
	}
	if len(d.Panels) == 0 {
		t.Fatal("the dashboard has no panels")
	}
	var exprs []string
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if g := p.GridPos; g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v is outside the 24-column grid", p.Title, g)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: data source %q, want the ${datasource} variable", p.Title, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if strings.TrimSpace(q.Expr) == "" {
				t.Errorf("panel %q: query %s is empty", p.Title, q.RefID)
			}
			exprs = append(exprs, q.Expr)
		}
	}
	for _, v := range d.Templating.List {
		var q struct {
			Query string `json:"query"`
		}
		if v.Type != "query" {
			continue
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			t.Errorf("variable %s: query: %v", v.Name, err)
			continue
		}
		m := regexp.MustCompile(`^label_values\((\w+),\s*\w+\)$`).FindStringSubmatch(q.Query)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(METRIC, LABEL)", v.Name, q.Query)
			continue
		}
		exprs = append(exprs, m[1])
	}

	checkPromQL(t, exprs)
	used := checkExprMetrics(t, exportedMetrics(t), exprs)
	for topic, metric := range map[string]string{
		"pools by state":     "phoneprov_dhcp_pool_addresses",
		"pool sizes":         "phoneprov_dhcp_pool_size",
		"leases/s":           "phoneprov_dhcp_packets_sent_total",
		"requests by status": "phoneprov_fileserve_requests_total",
		"request duration":   "phoneprov_fileserve_request_duration_seconds",
		"transfers":          "phoneprov_fileserve_active_transfers",
		"phones":             "phoneprov_inventory_phones",
		"build":              "phoneprov_build_info",
		"processors":         "go_sched_gomaxprocs_threads",
		"inventory drops":    "phoneprov_inventory_dropped_facts_total",
	} {
		if !used[metric] {
			t.Errorf("no panel shows %s (%s)", topic, metric)
		}
	}
}

// dashboard is the part of Grafana's dashboard JSON the test reads.
type dashboard struct {
	Title         string `json:"title"`
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Panels        []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		GridPos struct{ X, Y, W, H int } `json:"gridPos"`
		Targets []struct {
			Expr  string `json:"expr"`
			RefID string `json:"refId"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// checkPromQL has promtool parse every expression, as recording rules with
// Grafana's variables replaced by values of the same kind.
func checkPromQL(t *testing.T, exprs []string) {
	t.Helper()
	deploytest.NeedTools(t, "promtool")
	vars := strings.NewReplacer("$__rate_interval", "5m", "$instance", ".*")
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range exprs {
		q, err := json.Marshal(vars.Replace(e)) // a JSON string is a YAML string
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "      - record: dashboard:query%d\n        expr: %s\n", i, q)
	}
	file := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := deploytest.Output(t.Context(), time.Minute, "promtool", "check", "rules", file); err != nil {
		t.Errorf("promtool refuses a dashboard query: %v", err)
	} else {
		t.Log(out)
	}
}

// ruleExprs returns the expr: values of a Prometheus rules file, written
// on one line or as a block (expr: |) of more indented lines.
func ruleExprs(text string) []string {
	var exprs []string
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		key := strings.TrimLeft(lines[i], " ")
		v, ok := strings.CutPrefix(key, "expr:")
		if !ok {
			continue
		}
		if v = strings.TrimSpace(v); v != "|" && v != ">" {
			exprs = append(exprs, v)
			continue
		}
		indent := len(lines[i]) - len(key)
		var block []string
		for i+1 < len(lines) {
			next := lines[i+1]
			if strings.TrimSpace(next) != "" && len(next)-len(strings.TrimLeft(next, " ")) <= indent {
				break
			}
			block = append(block, strings.TrimSpace(next))
			i++
		}
		exprs = append(exprs, strings.Join(block, " "))
	}
	return exprs
}

// PromQL pieces that hold no metric names: strings, label matchers, range
// and subquery brackets, and the label lists of grouping and matching.
var (
	promqlString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promqlRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promqlLabels   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promqlKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true}
)

// exprMetrics returns the metric names a PromQL expression selects.
func exprMetrics(expr string) []string {
	s := promqlString.ReplaceAllString(expr, " ")
	s = promqlMatchers.ReplaceAllString(s, " ")
	s = promqlRange.ReplaceAllString(s, " ")
	s = promqlLabels.ReplaceAllString(s, " ")
	var names []string
	for _, m := range promqlIdent.FindAllStringSubmatch(s, -1) {
		if m[1] != "" || promqlKeywords[strings.ToLower(m[0])] {
			continue // a function call or a keyword
		}
		names = append(names, m[0])
	}
	return names
}

// checkExprMetrics fails t for an expression that names no metric, or one
// that phoneprov does not export, and returns the metrics used.
func checkExprMetrics(t *testing.T, exported map[string]bool, exprs []string) map[string]bool {
	t.Helper()
	used := map[string]bool{}
	for _, e := range exprs {
		names := exprMetrics(e)
		if len(names) == 0 {
			t.Errorf("%q names no metric", e)
		}
		for _, n := range names {
			base := n
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(n, suffix); ok && exported[b] {
					base = b
				}
			}
			if !exported[base] {
				t.Errorf("%q uses %s, which phoneprov does not export", e, n)
			}
			used[base] = true
		}
	}
	return used
}

// exportedMetrics are the metric names phoneprov's code registers: every
// "phoneprov_…" string in the non-test Go files of the packages behind the
// appliance, and what client_golang's Go and process collectors gather
// (go_…, process_…; the appliance registers both, with their defaults).
// Several families appear on /metrics only with DHCP on or after traffic
// (pools, lease store, phones), so the code is the complete list.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	repo := deploytest.RepoRoot(t)
	name := regexp.MustCompile(`"(phoneprov_[a-z0-9_]+)"`)
	names := map[string]bool{}
	for _, dir := range []string{"dhcpd", "fileserve", "provisioning", filepath.Join("cmd", "phoneprov")} {
		err := filepath.WalkDir(filepath.Join(repo, dir), func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range name.FindAllSubmatch(b, -1) {
				names[string(m[1])] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(names) < 20 {
		t.Fatalf("found only %d metric names in the code: %v", len(names), names)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		names[f.GetName()] = true
	}
	return names
}
