package tomlfile

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseDurationTakesDaysAndWeeks(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"42d", 42 * 24 * time.Hour},
		{"6w", 6 * 7 * 24 * time.Hour},
		{"1w2d12h", (9*24 + 12) * time.Hour},
		{"1.5d", 36 * time.Hour},
		{"30s", 30 * time.Second},
		{"2m0s", 2 * time.Minute},
		{"500ms", 500 * time.Millisecond},
		{"0", 0},
		{"-1d", -24 * time.Hour},
	} {
		got, err := ParseDuration(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "d", "42", "42x", "6w 1d", "1y", "99999999999w", "1d-1h"} {
		if d, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", bad, d)
		}
	}
}

func TestFormatDurationUsesTheLargestExactUnits(t *testing.T) {
	for _, c := range []struct {
		in   time.Duration
		want string
	}{
		{42 * 24 * time.Hour, "6w"},
		{24 * time.Hour, "1d"},
		{36 * time.Hour, "1d12h"},
		{10 * 24 * time.Hour, "1w3d"},
		{90 * time.Minute, "1h30m"},
		{2 * time.Minute, "2m"},
		{time.Hour + 5*time.Second, "1h0m5s"},
		{500 * time.Millisecond, "500ms"},
		{0, "0s"},
		{-24 * time.Hour, "-1d"},
	} {
		got := FormatDuration(c.in)
		if got != c.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", c.in, got, c.want)
		}
		if back, err := ParseDuration(got); err != nil || back != c.in {
			t.Errorf("ParseDuration(FormatDuration(%v)) = %v, %v", c.in, back, err)
		}
	}
}

type durations struct {
	Name     string        `toml:"name"`
	Timeout  time.Duration `toml:"timeout"`
	Subnets  []durSubnet   `toml:"subnet"`
	Nowhere  string        `toml:"lease_time_text"`
	Embedded               // flattened, as provisioning.Config is in [provisioning]
}

type Embedded struct {
	Hold time.Duration `toml:"hold"`
}

type durSubnet struct {
	LeaseTime time.Duration `toml:"lease_time"`
	Pools     []struct {
		LeaseTime time.Duration `toml:"lease_time"`
	} `toml:"pool"`
}

// Days and weeks are read in every place a duration can be written (plain
// keys, dotted keys, inline tables, arrays of tables, embedded structs);
// other strings that look like them are left alone; lines stay put.
func TestDecodeTakesDaysAndWeeksForDurations(t *testing.T) {
	p := write(t, `name = "6w"
timeout = "42d"   # six weeks
hold = '1w2d'
lease_time_text = "2d"

[[subnet]]
lease_time = "1d12h"
pool = [{ lease_time = "3d" }]
`)
	var v durations
	if _, err := Decode(p, &v); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	if v.Name != "6w" || v.Nowhere != "2d" {
		t.Errorf("strings changed: %q %q", v.Name, v.Nowhere)
	}
	if v.Timeout != 42*day || v.Hold != 9*day || v.Subnets[0].LeaseTime != 36*time.Hour || v.Subnets[0].Pools[0].LeaseTime != 3*day {
		t.Errorf("durations: %+v", v)
	}

	p = write(t, "name = \"x\"\n\n[[subnet]]\nlease_time = \"42x\"\n")
	_, err := Decode(p, &v)
	if err == nil || !strings.Contains(err.Error(), p+":4: subnet.lease_time: invalid duration: \"42x\"") || !strings.Contains(err.Error(), "d, w") {
		t.Errorf("bad duration: %v", err)
	}
}

func TestEncodeWritesDurationsInDaysAndWeeks(t *testing.T) {
	v := durations{Name: "1008h0m0s", Timeout: 42 * 24 * time.Hour, Embedded: Embedded{Hold: 90 * time.Second},
		Subnets: []durSubnet{{LeaseTime: 36 * time.Hour}}}
	var b bytes.Buffer
	if err := Encode(&b, v); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`name = "1008h0m0s"`, `timeout = "6w"`, `hold = "1m30s"`, `  lease_time = "1d12h"`} {
		if !strings.Contains(b.String(), want+"\n") {
			t.Errorf("no %s in\n%s", want, b.String())
		}
	}
	p := write(t, b.String())
	var back durations
	if _, err := Decode(p, &back); err != nil || back.Timeout != v.Timeout || back.Hold != v.Hold || back.Subnets[0].LeaseTime != v.Subnets[0].LeaseTime {
		t.Errorf("round trip: %+v %v", back, err)
	}
}
