// Package tomlfile loads one TOML configuration file strictly: unknown keys,
// type mismatches and failed validations all become errors that name the file,
// the line and the key, like "phoneprov.toml:14: fileserve.tftp.blksize_max: 70000 is above 65464".
// Durations (time.Duration fields) also take days and weeks ("42d", "6w"),
// as dnsmasq does, and Encode writes them that way.
package tomlfile

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	File string // path of the file as given
	Line int    // 1-based; 0 when the key is not written in the file (a default value is wrong)
	Key  string // dotted key, array-of-table entries indexed like "dhcp.subnet[1].cidr"
	Err  error
}

func (p Problem) Error() string {
	switch {
	case p.Line > 0 && p.Key != "":
		return fmt.Sprintf("%s:%d: %s: %v", p.File, p.Line, p.Key, p.Err)
	case p.Line > 0:
		return fmt.Sprintf("%s:%d: %v", p.File, p.Line, p.Err)
	case p.Key != "":
		return fmt.Sprintf("%s: %s: %v", p.File, p.Key, p.Err)
	default:
		return fmt.Sprintf("%s: %v", p.File, p.Err)
	}
}

func (p Problem) Unwrap() error { return p.Err }

// Problems is every problem found in one file, in line order.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Document is a decoded file that remembers where each key was written,
// so later validation can point at the right line.
type Document struct {
	Path  string
	lines map[string]int // dotted key (with [i] indices) → line
	plain []located      // every key in file order, indices stripped, for Undecoded lookups
}

type located struct {
	plainKey string
	line     int
}

// Decode reads path into v (which should hold the defaults already) and
// returns the problems of syntax, type and unknown keys. An empty path decodes
// nothing and returns a Document with no positions.
func Decode(path string, v any) (*Document, error) {
	doc := &Document{Path: path, lines: map[string]int{}}
	if path == "" {
		return doc, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	doc.index(string(data))
	md, err := toml.Decode(rewriteDurations(string(data), durationNames(v)), v)
	if err != nil {
		return nil, Problems{doc.decodeProblem(err)}
	}
	var ps Problems
	for _, k := range md.Undecoded() {
		key := k.String()
		ps = append(ps, Problem{File: path, Line: doc.lineOfPlain(key), Key: key, Err: errors.New("unknown key")})
	}
	if len(ps) > 0 {
		return nil, ps.sorted()
	}
	return doc, nil
}

// Reporter collects validation problems; packages' Validate methods call it
// with keys relative to their own section.
type Reporter = func(key string, err error)

// Validate runs check with a Reporter that prefixes section to each key and
// places it on its line. It returns nil when check reported nothing.
func (d *Document) Validate(section string, check func(report Reporter)) error {
	var ps Problems
	check(func(key string, err error) {
		full := key
		if section != "" && key != "" {
			full = section + "." + key
		} else if section != "" {
			full = section
		}
		ps = append(ps, Problem{File: d.Path, Line: d.Line(full), Key: full, Err: err})
	})
	if len(ps) == 0 {
		return nil
	}
	return ps.sorted()
}

// Line returns the line where key (dotted, with [i] indices for arrays of
// tables) was written, or the line of its nearest written parent, or 0.
func (d *Document) Line(key string) int {
	for k := key; k != ""; k = parentKey(k) {
		if l, ok := d.lines[k]; ok {
			return l
		}
	}
	return 0
}

func parentKey(k string) string {
	if strings.HasSuffix(k, "]") {
		if i := strings.LastIndexByte(k, '['); i > 0 {
			return k[:i]
		}
	}
	if i := strings.LastIndexByte(k, '.'); i > 0 {
		return k[:i]
	}
	return ""
}

func (d *Document) lineOfPlain(key string) int {
	for _, l := range d.plain {
		if l.plainKey == key {
			return l.line
		}
	}
	return 0
}

var lineOfDecodeError = regexp.MustCompile(`^toml: line (\d+)(?: \(last key "([^"]*)"\))?: (.*)$`)

func (d *Document) decodeProblem(err error) Problem {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		msg := pe.Message
		if strings.HasPrefix(msg, "invalid duration") {
			msg += " (a number and a unit, several in a row: ns, us, ms, s, m, h, d, w; like 30s, 42d, 6w, 1w2d)"
		}
		return Problem{File: d.Path, Line: pe.Position.Line, Key: pe.LastKey, Err: errors.New(msg)}
	}
	if m := lineOfDecodeError.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: d.Path, Line: line, Key: m[2], Err: errors.New(m[3])}
	}
	return Problem{File: d.Path, Err: err}
}

func (ps Problems) sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	return ps
}

// index records the line of every table header and key. It is a line scanner,
// not a parser: the real parse is toml.Decode, which has already accepted the
// syntax when positions are looked up. It skips the insides of multi-line
// strings and arrays.
func (d *Document) index(src string) {
	table := ""
	counts := map[string]int{} // array-of-tables path (parents indexed) → entries seen
	inMultiline := ""          // `"""` or `'''` while inside a multi-line string
	depth := 0                 // open [ or { of a value spanning lines
	for n, raw := range strings.Split(src, "\n") {
		lineNo := n + 1
		line := strings.TrimSpace(raw)
		if inMultiline != "" {
			if strings.Count(line, inMultiline)%2 == 1 {
				inMultiline = ""
			}
			continue
		}
		if depth > 0 {
			depth += bracketDelta(line)
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		if strings.HasPrefix(line, "[[") {
			name := normalizeKey(strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(stripComment(line), "[[")), "]]"))
			resolved := d.resolveTable(name, counts)
			idx := counts[resolved]
			counts[resolved] = idx + 1
			table = resolved + "[" + strconv.Itoa(idx) + "]"
			d.note(table, lineNo)
			continue
		}
		if strings.HasPrefix(line, "[") {
			name := normalizeKey(strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(stripComment(line), "[")), "]"))
			table = d.resolveTable(name, counts)
			d.note(table, lineNo)
			continue
		}
		eq := strings.IndexByte(line, '=')
		if eq <= 0 {
			continue
		}
		key := normalizeKey(line[:eq])
		full := key
		if table != "" {
			full = table + "." + key
		}
		d.note(full, lineNo)
		value := strings.TrimSpace(line[eq+1:])
		for _, q := range []string{`"""`, `'''`} {
			if strings.HasPrefix(value, q) && strings.Count(value, q) == 1 {
				inMultiline = q
			}
		}
		depth = bracketDelta(value)
		if depth < 0 {
			depth = 0
		}
	}
}

// resolveTable turns a header like "dhcp.subnet.pool" into
// "dhcp.subnet[2].pool" when dhcp.subnet is an array of tables.
func (d *Document) resolveTable(name string, counts map[string]int) string {
	parts := strings.Split(name, ".")
	out := ""
	for i, p := range parts {
		if out != "" {
			out += "."
		}
		out += p
		if i < len(parts)-1 {
			if c := counts[out]; c > 0 {
				out += "[" + strconv.Itoa(c-1) + "]"
			}
		}
	}
	return out
}

func (d *Document) note(key string, line int) {
	if _, seen := d.lines[key]; !seen {
		d.lines[key] = line
	}
	d.plain = append(d.plain, located{plainKey: stripIndices(key), line: line})
}

var indexSuffix = regexp.MustCompile(`\[\d+\]`)

func stripIndices(k string) string { return indexSuffix.ReplaceAllString(k, "") }

// normalizeKey trims spaces around dots and removes simple quotes.
func normalizeKey(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}

func stripComment(s string) string {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

// bracketDelta counts unbalanced [ and { outside quoted strings.
func bracketDelta(s string) int {
	delta := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#':
			return delta
		case c == '[' || c == '{':
			delta++
		case c == ']' || c == '}':
			delta--
		}
	}
	return delta
}
