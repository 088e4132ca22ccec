package benchkit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// MDEscape keeps text from breaking a Markdown table row.
func MDEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// MDTable writes a Markdown table; fill calls row once per row. Cells are
// escaped with MDEscape.
func MDTable(b *strings.Builder, header []string, fill func(row func(...string))) {
	row := func(cells ...string) {
		esc := make([]string, len(cells))
		for i, c := range cells {
			esc[i] = MDEscape(c)
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(esc, " | "))
	}
	row(header...)
	b.WriteString("|" + strings.Repeat("---|", len(header)) + "\n")
	fill(row)
}

// ShellJoin renders arguments for a shell, quoting those that need it.
func ShellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// writeReportFile writes a rendered Markdown report to dir/name, making
// dir if needed, and returns its path.
func writeReportFile(dir, name, text string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return path, nil
}
