// Package script interprets the Avaya upgrade and settings scripts
// (46xxupgrade.scr, J100Supgrade.txt, 46xxsettings.txt, …) the way a phone
// does, with its own small reader: phonesim checks what a server sends
// independently of the server's code.
//
// The language, one command a line:
//
//	# LABEL                       a label (one '#', one space, a name)
//	## anything, #anything        a comment
//	GOTO LABEL
//	IF $VAR SEQ string GOTO LABEL string comparison
//	SET NAME value                value may be quoted: SET SCREENSAVERON "240"
//	GET file                      fetch file; if it came, go on in it,
//	                              otherwise go on here
//
// Variables ($MODEL4, $GROUP, $MACADDR, $SIG, …) are the phone's own
// values and every setting SET so far: "SET GROUP 2" changes $GROUP.
//
// Sources (testdata/phones/CORRECTIONS.md, claims 2 and 3): "##" comment
// lines and an explicit "GET $MACADDR.txt"-style line for the per-phone
// file are confirmed by public scripts. The rest is the reference file's
// description and unconfirmed; where a phone's behaviour is not known the
// interpreter is lenient and says so in a warning:
//   - unknown commands and IF operators are skipped (3b, 3c not found);
//   - a GET that finds nothing goes on in the current file on every
//     model (3d: that the 4600 stops there was not found);
//   - SEQ values that differ only in case match (3e: which models ignore
//     case was not found);
//   - labels match ignoring case.
package script

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
)

// ErrNotFound is what a Fetcher returns (wrapped) when the server answered
// that it has no such file. GET then goes on in the current file.
var ErrNotFound = errors.New("file not found")

// Fetcher gets the file a GET names. Any error other than ErrNotFound
// (a server that does not answer, a cut transfer) stops the interpreter.
type Fetcher interface {
	Fetch(ctx context.Context, name string) ([]byte, error)
}

// FetchFunc adapts a function to Fetcher.
type FetchFunc func(ctx context.Context, name string) ([]byte, error)

// Fetch calls f.
func (f FetchFunc) Fetch(ctx context.Context, name string) ([]byte, error) { return f(ctx, name) }

// Options bound a run and let the phone watch it.
type Options struct {
	// MaxFiles bounds the files one run may go through (GET chains);
	// 0 means 16.
	MaxFiles int
	// MaxSteps bounds the lines executed in one run (GOTO loops); 0 means
	// 100000.
	MaxSteps int
	// OnSet, if set, is called after every SET with the upper-case name
	// and the value, so a phone can act on a new HTTPSRVR before the next
	// GET.
	OnSet func(name, value string)
}

// Result is what a run of the interpreter leaves behind.
type Result struct {
	// Vars are the phone's variables and every setting after the run,
	// names upper-case.
	Vars map[string]string
	// Set are the names SET during the run, in the order first set.
	Set []string
	// Files are the files the run went through, the first included.
	Files []string
	// Missing are the files a GET asked for that the server did not have.
	Missing []string
	// Warnings name lines the interpreter skipped, with file and line.
	Warnings []string
}

// Interpreter runs scripts for one phone.
type Interpreter struct {
	opts  Options
	fetch Fetcher
}

// New returns an interpreter that fetches GET files through f.
func New(f Fetcher, opts Options) *Interpreter {
	if opts.MaxFiles <= 0 {
		opts.MaxFiles = 16
	}
	if opts.MaxSteps <= 0 {
		opts.MaxSteps = 100000
	}
	return &Interpreter{opts: opts, fetch: f}
}

// line is one command of a file.
type line struct {
	no   int      // 1-based line number
	cmd  string   // upper-case command, or "LABEL"
	args []string // the rest, split as the phone splits it
}

// Run interprets text (the file called name, already fetched) with the
// given variables, which it does not modify. The returned Result is
// complete up to the point where an error stopped the run.
func (in *Interpreter) Run(ctx context.Context, name string, text []byte, vars map[string]string) (Result, error) {
	res := Result{Vars: make(map[string]string, len(vars))}
	for k, v := range vars {
		res.Vars[strings.ToUpper(k)] = v
	}
	set := map[string]bool{}
	steps := 0
	for {
		res.Files = append(res.Files, name)
		lines, labels, warnings := parse(name, text)
		res.Warnings = append(res.Warnings, warnings...)
		next, nextText, err := in.runFile(ctx, name, lines, labels, &res, set, &steps)
		if err != nil || next == "" {
			return res, err
		}
		if len(res.Files) >= in.opts.MaxFiles {
			return res, fmt.Errorf("%s: GET %s: more than %d files in one run (a GET loop?)", name, next, in.opts.MaxFiles)
		}
		name, text = next, nextText
	}
}

// runFile executes one file. It returns the next file's name and text
// when a GET succeeded, or "" when the run is over.
func (in *Interpreter) runFile(ctx context.Context, name string, lines []line, labels map[string]int, res *Result, set map[string]bool, steps *int) (string, []byte, error) {
	warn := func(l line, format string, a ...any) {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s:%d: %s", name, l.no, fmt.Sprintf(format, a...)))
	}
	for pc := 0; pc < len(lines); pc++ {
		if err := ctx.Err(); err != nil {
			return "", nil, err
		}
		if *steps++; *steps > in.opts.MaxSteps {
			return "", nil, fmt.Errorf("%s:%d: more than %d lines executed (a GOTO loop?)", name, lines[pc].no, in.opts.MaxSteps)
		}
		l := lines[pc]
		switch l.cmd {
		case "LABEL":
		case "GOTO":
			if len(l.args) != 1 {
				warn(l, "GOTO needs one label")
				continue
			}
			to, ok := findLabel(labels, l.args[0])
			if !ok {
				// Where a phone goes on an unknown label is unconfirmed; it
				// cannot go anywhere sensible, so the file ends.
				warn(l, "GOTO %s: no such label; the file ends here", l.args[0])
				return "", nil, nil
			}
			pc = to
		case "IF":
			// IF $VAR SEQ value GOTO label
			if len(l.args) != 5 || !strings.EqualFold(l.args[3], "GOTO") || !strings.HasPrefix(l.args[0], "$") {
				warn(l, "IF needs: IF $VAR SEQ value GOTO label")
				continue
			}
			if !strings.EqualFold(l.args[1], "SEQ") {
				warn(l, "IF: unknown comparison %s", l.args[1])
				continue
			}
			have := res.Vars[strings.ToUpper(l.args[0][1:])]
			want := l.args[2]
			if have != want && !strings.EqualFold(have, want) {
				continue
			}
			if have != want {
				warn(l, "SEQ %s matched %s ignoring case (whether this model ignores case is unconfirmed)", want, have)
			}
			to, ok := findLabel(labels, l.args[4])
			if !ok {
				warn(l, "IF … GOTO %s: no such label; the file ends here", l.args[4])
				return "", nil, nil
			}
			pc = to
		case "SET":
			if len(l.args) == 0 {
				warn(l, "SET needs a name")
				continue
			}
			key := strings.ToUpper(l.args[0])
			value := strings.Join(l.args[1:], " ")
			res.Vars[key] = value
			if !set[key] {
				set[key] = true
				res.Set = append(res.Set, key)
			}
			if in.opts.OnSet != nil {
				in.opts.OnSet(key, value)
			}
		case "GET":
			if len(l.args) != 1 {
				warn(l, "GET needs one file name")
				continue
			}
			file := expand(l.args[0], res.Vars)
			body, err := in.fetch.Fetch(ctx, file)
			switch {
			case err == nil:
				return file, body, nil
			case errors.Is(err, ErrNotFound):
				res.Missing = append(res.Missing, file)
			default:
				return "", nil, fmt.Errorf("%s:%d: GET %s: %w", name, l.no, file, err)
			}
		default:
			warn(l, "unknown command %s skipped", l.cmd)
		}
	}
	return "", nil, nil
}

// findLabel looks a label up exactly, then ignoring case (whether phones
// ignore case in labels is unconfirmed: accept both).
func findLabel(labels map[string]int, name string) (int, bool) {
	if i, ok := labels[name]; ok {
		return i, true
	}
	for l, i := range labels {
		if strings.EqualFold(l, name) {
			return i, true
		}
	}
	return 0, false
}

// expand replaces $NAME in a GET file name with the variable's value
// (J100 file names may use $MACADDR). An unknown variable stays as written.
func expand(s string, vars map[string]string) string {
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
		for j < len(s) && (s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9' || s[j] == '_') {
			j++
		}
		if v, ok := vars[strings.ToUpper(s[i+1:j])]; ok && j > i+1 {
			b.WriteString(v)
		} else {
			b.WriteString(s[i:j])
		}
		i = j
	}
	return b.String()
}

// parse splits a file into commands and labels. Labels map to the index
// of their own line, so a jump lands just before the next command.
func parse(name string, text []byte) ([]line, map[string]int, []string) {
	var lines []line
	labels := map[string]int{}
	var warnings []string
	// Scripts written on Windows carry CR LF; a UTF-8 BOM may start them.
	text = bytes.TrimPrefix(text, []byte("\xef\xbb\xbf"))
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	no := 0
	for sc.Scan() {
		no++
		raw := strings.TrimSpace(strings.TrimRight(sc.Text(), "\r"))
		if raw == "" {
			continue
		}
		if raw[0] == '#' {
			// "# LABEL": exactly one '#', one space, a name and nothing else.
			if rest, ok := strings.CutPrefix(raw, "# "); ok && rest != "" && !strings.ContainsAny(rest, " \t#") {
				labels[rest] = len(lines)
				lines = append(lines, line{no: no, cmd: "LABEL", args: []string{rest}})
			}
			continue
		}
		fields, err := splitFields(raw)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("%s:%d: %v; line skipped", name, no, err))
			continue
		}
		lines = append(lines, line{no: no, cmd: strings.ToUpper(fields[0]), args: fields[1:]})
	}
	if err := sc.Err(); err != nil {
		warnings = append(warnings, fmt.Sprintf("%s:%d: %v; the rest of the file is ignored", name, no+1, err))
	}
	return lines, labels, warnings
}

// splitFields splits a line at blanks; a double-quoted field keeps its
// blanks and loses its quotes.
func splitFields(s string) ([]string, error) {
	var out []string
	for i := 0; i < len(s); {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i == len(s) {
			break
		}
		if s[i] == '"' {
			end := strings.IndexByte(s[i+1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unclosed quote")
			}
			out = append(out, s[i+1:i+1+end])
			i += end + 2
			continue
		}
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '\t' {
			j++
		}
		out = append(out, s[i:j])
		i = j
	}
	return out, nil
}
