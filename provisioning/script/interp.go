package script

import (
	"errors"
	"fmt"
	"strings"
)

// Op is one SET or GET a phone carries out, in order.
type Op struct {
	Kind    Kind   // Set, Add or Get
	Name    string // SET, ADD: parameter name, as written
	Value   string // SET, ADD: value; GET: file name with $VARIABLES filled in
	File    string // the script the command is in
	Line    int
	Fetched bool // GET: the file was there and reading went on in it
}

// RunOptions describe the phone a script is run for.
type RunOptions struct {
	// File names the script for Op.File.
	File string
	// Vars are the phone's variables by name without '$' (MODEL4, GROUP,
	// MACADDR, SIG, …). Names are matched without regard to case. A SET
	// also sets the variable of the same name, as on a phone.
	Vars map[string]string
	// Fetch returns the script a GET names, or false when the file server
	// does not have it. Nil: no GET succeeds.
	Fetch func(name string) (*Script, bool)
	// FoldCase compares SEQ without regard to case, as 4600, 1600 and 9600
	// phones do (their admin guides); 96x1 and J100 phones compare exactly
	// (project reference, "Script language"). firmware.SeriesInfo.FoldCase
	// says which a series does.
	FoldCase bool
	// MaxSteps bounds the lines run, against GOTO loops; 0 means 10000.
	MaxSteps int
	// MaxFiles bounds the chain of fetched scripts; 0 means 16.
	MaxFiles int
}

// Result is what running a script did.
type Result struct {
	Ops  []Op
	Vars map[string]string // the variables at the end (upper-case names)
}

// Settings returns the final value of each parameter set (upper-case names).
func (r Result) Settings() map[string]string {
	m := map[string]string{}
	for _, op := range r.Ops {
		switch op.Kind {
		case Set:
			m[strings.ToUpper(op.Name)] = op.Value
		case Add:
			m[strings.ToUpper(op.Name)] = addTo(m[strings.ToUpper(op.Name)], op.Value)
		}
	}
	return m
}

// addTo is what ADD does to a value, as far as field scripts show (the
// command is unconfirmed): it appends an item to a comma-separated list.
func addTo(list, item string) string {
	if list == "" {
		return item
	}
	return list + "," + item
}

// ErrLoop means the script ran longer than RunOptions.MaxSteps: a phone
// following it would loop.
var ErrLoop = errors.New("script runs in a loop")

// Run interprets s the way the admin guides describe a phone doing it:
//   - an IF on a variable the phone does not have is ignored;
//   - a GOTO (or IF) to a missing label ends the current script;
//   - a GET that fetches a file continues in that file and never comes back;
//     one that fails goes on with the next line, on every series (4600 LAN
//     admin guide: the phone continues with the script; J100 admin guide
//     R4.1, "Contents of the settings file");
//   - ADD (unconfirmed, seen in field scripts) appends to a parameter's
//     comma-separated list;
//   - Invalid lines are skipped.
//
// Labels are matched exactly, and if that fails without regard to case
// (sources do not say which phones fold case; being lenient here keeps the
// linter, not the interpreter, in charge of complaining).
func Run(s *Script, opts RunOptions) (Result, error) {
	maxSteps, maxFiles := opts.MaxSteps, opts.MaxFiles
	if maxSteps <= 0 {
		maxSteps = 10000
	}
	if maxFiles <= 0 {
		maxFiles = 16
	}
	vars := map[string]string{}
	for k, v := range opts.Vars {
		vars[strings.ToUpper(strings.TrimPrefix(k, "$"))] = v
	}
	res := Result{Vars: vars}
	file, cur := opts.File, s
	files, steps := 1, 0
	labels := labelIndex(cur)
	for pc := 0; pc < len(cur.Lines); pc++ {
		steps++
		if steps > maxSteps {
			return res, fmt.Errorf("%s: %w (more than %d lines run)", file, ErrLoop, maxSteps)
		}
		l := cur.Lines[pc]
		jump := ""
		switch l.Kind {
		case Set:
			res.Ops = append(res.Ops, Op{Kind: Set, Name: l.Name, Value: l.Value, File: file, Line: l.Num})
			vars[strings.ToUpper(l.Name)] = l.Value
		case Add:
			res.Ops = append(res.Ops, Op{Kind: Add, Name: l.Name, Value: l.Value, File: file, Line: l.Num})
			vars[strings.ToUpper(l.Name)] = addTo(vars[strings.ToUpper(l.Name)], l.Value)
		case Goto:
			jump = l.Target
		case If:
			v, ok := vars[strings.ToUpper(l.Name)]
			if ok && (v == l.Value || opts.FoldCase && strings.EqualFold(v, l.Value)) {
				jump = l.Target
			}
		case Get:
			name := Expand(l.Value, vars)
			next, ok := (*Script)(nil), false
			if opts.Fetch != nil {
				next, ok = opts.Fetch(name)
			}
			res.Ops = append(res.Ops, Op{Kind: Get, Value: name, File: file, Line: l.Num, Fetched: ok})
			if ok {
				files++
				if files > maxFiles {
					return res, fmt.Errorf("%s: more than %d scripts fetched in a chain", file, maxFiles)
				}
				file, cur, labels, pc = name, next, labelIndex(next), -1
			}
		}
		if jump != "" {
			i, ok := labels.find(jump)
			if !ok {
				return res, nil // "the rest of the file is ignored"
			}
			pc = i
		}
	}
	return res, nil
}

type labels struct {
	exact  map[string]int
	folded map[string]int
}

func labelIndex(s *Script) labels {
	l := labels{exact: s.Labels(), folded: map[string]int{}}
	for tag, i := range l.exact {
		k := strings.ToUpper(tag)
		if j, ok := l.folded[k]; !ok || i < j {
			l.folded[k] = i
		}
	}
	return l
}

func (l labels) find(tag string) (int, bool) {
	if i, ok := l.exact[tag]; ok {
		return i, true
	}
	i, ok := l.folded[strings.ToUpper(tag)]
	return i, ok
}

// Expand fills in $VARIABLES in a file name (J100 file paths allow
// $MACADDR and the like). Unknown variables are left as written.
func Expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '$' {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i + 1
		for j < len(s) && (isUpperAlnum(s[j]) || s[j] == '_') {
			j++
		}
		// The longest known name wins, so $MACADDR is not read as $MAC.
		matched := false
		for k := j; k > i+1; k-- {
			if v, ok := vars[strings.ToUpper(s[i+1:k])]; ok {
				b.WriteString(v)
				i, matched = k, true
				break
			}
		}
		if !matched {
			b.WriteString(s[i:j])
			i = j
		}
	}
	return b.String()
}

func isUpperAlnum(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}
