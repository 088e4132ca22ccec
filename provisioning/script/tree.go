package script

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
)

// scriptNames are the files phones fetch as scripts, as the admin guides and
// the project reference name them: each series' upgrade script, then the
// settings file (46xxsettings.scr is the 4600's older name) and the specials
// file IP Office setups GET at the end of the settings.
var scriptNames = []string{
	"46xxupgrade.scr", "46xxupgrade.txt", "16xxupgrade.txt", "96xxupgrade.txt",
	"96x1Hupgrade.txt", "96x1Supgrade.txt", "J100Supgrade.txt", "K1xxSupgrade.txt",
	"46xxsettings.txt", "46xxsettings.scr", "46xxspecials.txt",
}

// phoneFileName matches per-phone files: <mac>.txt with 12 hex digits,
// optionally separated by ':', '-' or '.'.
var phoneFileName = regexp.MustCompile(`(?i)^(?:[0-9a-f]{2}[:.-]?){5}[0-9a-f]{2}\.txt$`)

// IsPhoneFile reports whether a name looks like a per-phone file (<mac>.txt).
func IsPhoneFile(name string) bool { return phoneFileName.MatchString(name) }

// maxScriptSize bounds what is read as a script; real ones are a few kB.
const maxScriptSize = 1 << 20

// LintTree lints the operator's script files in filesDir: the known script
// names and per-phone files at the top of the tree, and any file in the tree
// they GET. exists says whether the file server has a name (it should know
// built-in and generated files as well as the tree); nil means "is in the
// tree", compared without regard to case as the file server does. Reading
// stays inside filesDir (symbolic links that leave it are not followed).
func LintTree(ctx context.Context, filesDir string, exists func(name string) bool) ([]Finding, error) {
	root, err := os.OpenRoot(filesDir)
	if err != nil {
		return nil, fmt.Errorf("lint scripts: %w", err)
	}
	defer root.Close()
	names, err := readDirNames(root, ".")
	if err != nil {
		return nil, fmt.Errorf("lint scripts: read %s: %w", filesDir, err)
	}
	inTree := map[string]string{} // lower-case top-level name → as written
	for _, n := range names {
		inTree[strings.ToLower(n)] = n
	}
	if exists == nil {
		exists = func(name string) bool { return treeHas(root, inTree, name) }
	}
	var queue []string
	for _, want := range scriptNames {
		if n, ok := inTree[strings.ToLower(want)]; ok {
			queue = append(queue, n)
		}
	}
	for _, n := range names {
		if IsPhoneFile(n) {
			queue = append(queue, n)
		}
	}
	sort.Strings(queue)
	var out []Finding
	done := map[string]bool{}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := queue[0]
		queue = queue[1:]
		if done[strings.ToLower(name)] {
			continue
		}
		done[strings.ToLower(name)] = true
		data, problem := readScript(root, name)
		if problem != "" {
			out = append(out, Finding{File: name, Severity: Error, Message: problem})
			continue
		}
		s := Parse(data)
		out = append(out, Lint(s, LintOptions{File: name, Exists: exists})...)
		// Follow GETs to files in the tree; they are scripts too.
		for _, l := range s.Lines {
			if l.Kind != Get || external(l.Value) {
				continue
			}
			if n, ok := resolveInTree(root, inTree, l.Value); ok && !done[strings.ToLower(n)] {
				queue = append(queue, n)
			}
		}
	}
	SortFindings(out)
	return out, nil
}

func readDirNames(root *os.Root, dir string) ([]string, error) {
	d, err := root.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// treeHas says whether name is a regular file in the tree, trying the exact
// name and then, for top-level names, any case.
func treeHas(root *os.Root, inTree map[string]string, name string) bool {
	_, ok := resolveInTree(root, inTree, name)
	return ok
}

func resolveInTree(root *os.Root, inTree map[string]string, name string) (string, bool) {
	name = strings.TrimLeft(strings.ReplaceAll(name, "\\", "/"), "/")
	if name == "" || strings.HasPrefix(path.Clean(name), "..") {
		return "", false
	}
	if fi, err := root.Stat(name); err == nil && fi.Mode().IsRegular() {
		return name, true
	}
	if strings.Contains(name, "/") {
		return "", false
	}
	n, ok := inTree[strings.ToLower(name)]
	if !ok {
		return "", false
	}
	fi, err := root.Stat(n)
	return n, err == nil && fi.Mode().IsRegular()
}

// readScript reads a script file, or says why it cannot be one.
func readScript(root *os.Root, name string) ([]byte, string) {
	f, err := root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "cannot be read: it vanished or is a link that leaves the tree"
		}
		return nil, fmt.Sprintf("cannot be read: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Sprintf("cannot be read: %v", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, "is not a regular file"
	}
	data, err := io.ReadAll(io.LimitReader(f, maxScriptSize+1))
	if err != nil {
		return nil, fmt.Sprintf("cannot be read: %v", err)
	}
	if len(data) > maxScriptSize {
		return nil, fmt.Sprintf("is larger than %d bytes; that is no phone script", maxScriptSize)
	}
	if len(data) >= 2 && (data[0] == 0xFF && data[1] == 0xFE || data[0] == 0xFE && data[1] == 0xFF) {
		return nil, "is UTF-16 encoded; phones read scripts as ASCII or UTF-8 (save it as UTF-8)"
	}
	return data, ""
}
