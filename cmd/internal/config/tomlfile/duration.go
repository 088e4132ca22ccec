package tomlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Units beyond Go's: dnsmasq writes lease times in days and weeks ("The
// lease time is in seconds, or minutes (eg 45m) or hours (eg 1h) or days
// (2d) or weeks (1w)", dnsmasq(8), --dhcp-range).
const (
	day  = 24 * time.Hour
	week = 7 * day
)

// durationPart is one number and unit of a duration such as "1w2d12h".
var durationPart = regexp.MustCompile(`^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([a-zµμ]+)`)

// ParseDuration reads a duration as time.ParseDuration does, and also
// with the units d (24 hours) and w (7 days) that dnsmasq takes for lease
// times: "42d", "6w", "1w2d12h", "1.5d".
func ParseDuration(s string) (time.Duration, error) {
	rest, neg := s, false
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		neg, rest = rest[0] == '-', rest[1:]
	}
	if rest == "0" {
		return 0, nil
	}
	if rest == "" {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	var total time.Duration
	for rest != "" {
		m := durationPart.FindStringSubmatch(rest)
		if m == nil {
			return 0, fmt.Errorf("invalid duration %q (a number and a unit, several in a row: ns, us, ms, s, m, h, d, w; like 30s, 42d, 6w, 1w2d)", s)
		}
		rest = rest[len(m[0]):]
		part, err := parsePart(m[1], m[2])
		if err != nil || total > maxDuration-part {
			return 0, fmt.Errorf("invalid duration %q (too long, or an unknown unit: ns, us, ms, s, m, h, d, w)", s)
		}
		total += part
	}
	if neg {
		total = -total
	}
	return total, nil
}

const maxDuration = time.Duration(1<<63 - 1)

// parsePart is one number and unit.
func parsePart(number, unit string) (time.Duration, error) {
	scale := time.Duration(0)
	switch unit {
	case "d":
		scale = day / time.Hour
	case "w":
		scale = week / time.Hour
	default:
		return time.ParseDuration(number + unit)
	}
	hours, err := time.ParseDuration(number + "h")
	if err != nil {
		return 0, err
	}
	if hours > maxDuration/scale {
		return 0, errors.New("too long")
	}
	return hours * scale, nil
}

// FormatDuration writes d in the largest units that state it exactly:
// weeks and days, then Go's hours, minutes and seconds without trailing
// zero units: 1008h is "6w", 36h "1d12h", 90m "1h30m", 500ms "500ms".
// ParseDuration reads it back.
func FormatDuration(d time.Duration) string {
	if d < 0 {
		if d == -maxDuration-1 {
			return d.String()
		}
		return "-" + FormatDuration(-d)
	}
	var b strings.Builder
	if w := d / week; w > 0 {
		fmt.Fprintf(&b, "%dw", w)
	}
	if n := d % week / day; n > 0 {
		fmt.Fprintf(&b, "%dd", n)
	}
	if rem := d % day; rem > 0 || b.Len() == 0 {
		s := rem.String()
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		b.WriteString(s)
	}
	return b.String()
}

// durationNames are the keys of v's type that hold a time.Duration, by
// their last name ("lease_time"); a name some other field of another type
// also uses is left out, so that only durations are ever rewritten.
func durationNames(v any) map[string]bool {
	dur, other := map[string]bool{}, map[string]bool{}
	collectNames(reflect.TypeOf(v), dur, other, map[reflect.Type]bool{})
	for name := range other {
		delete(dur, name)
	}
	return dur
}

var durationType = reflect.TypeFor[time.Duration]()

func collectNames(t reflect.Type, dur, other map[string]bool, seen map[reflect.Type]bool) {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map) {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct || seen[t] {
		return
	}
	seen[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		switch {
		case name == "-":
			continue
		case name == "" && f.Anonymous:
			collectNames(f.Type, dur, other, seen)
			continue
		case name == "":
			name = f.Name
		}
		if f.Type == durationType {
			dur[name] = true
			continue
		}
		other[name] = true
		collectNames(f.Type, dur, other, seen)
	}
}

// durationValue finds `key = "value"` (or 'value') pairs, also inside
// inline tables: group 1 is the key, 2 or 3 the string's content.
var durationValue = regexp.MustCompile(`([A-Za-z0-9_.-]+|"[A-Za-z0-9_.-]+")[ \t]*=[ \t]*(?:"([^"\\\n]*)"|'([^'\n]*)')`)

// rewriteDurations turns the days and weeks of v's duration keys into
// Go's units, in place, so that the TOML decoder (which reads durations
// with time.ParseDuration) takes them; lines stay where they are, so
// problems still name the line the operator wrote.
func rewriteDurations(src string, names map[string]bool) string {
	return durationValue.ReplaceAllStringFunc(src, func(pair string) string {
		m := durationValue.FindStringSubmatchIndex(pair)
		key := strings.Trim(pair[m[2]:m[3]], `"`)
		if i := strings.LastIndexByte(key, '.'); i >= 0 {
			key = key[i+1:]
		}
		start, end := m[4], m[5]
		if start < 0 {
			start, end = m[6], m[7]
		}
		value := pair[start:end]
		if !names[key] {
			return pair
		}
		if _, err := time.ParseDuration(value); err == nil {
			return pair
		}
		d, err := ParseDuration(value)
		if err != nil {
			return pair
		}
		return pair[:start] + d.String() + pair[end:]
	})
}

// encodedDuration is a `key = "value"` line as the TOML encoder writes it.
var encodedDuration = regexp.MustCompile(`^([ \t]*)([A-Za-z0-9_-]+) = "([^"\\]*)"$`)

// Encode writes v as TOML, as toml.Encoder does, but with its durations
// in the units ParseDuration reads and FormatDuration writes ("6w", "1d",
// "30s") instead of Go's ("1008h0m0s").
func Encode(w io.Writer, v any) error {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(v); err != nil {
		return fmt.Errorf("encode TOML: %w", err)
	}
	names := durationNames(v)
	lines := strings.SplitAfter(buf.String(), "\n")
	for i, line := range lines {
		body := strings.TrimSuffix(line, "\n")
		m := encodedDuration.FindStringSubmatch(body)
		if m == nil || !names[m[2]] {
			continue
		}
		d, err := time.ParseDuration(m[3])
		if err != nil {
			continue
		}
		lines[i] = fmt.Sprintf("%s%s = %q%s", m[1], m[2], FormatDuration(d), line[len(body):])
	}
	_, err := io.WriteString(w, strings.Join(lines, ""))
	return err
}
