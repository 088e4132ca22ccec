package durable

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var testJournal = JournalConfig{Magic: "TESTJRNL", Version: 2, What: "test journal", MaxBody: 1 << 10, MinRewrite: 64, Factor: 2}

// openTestJournal opens the journal at path and returns the bodies read.
func openTestJournal(t *testing.T, path string, cfg JournalConfig) (*Journal, Recovery, []string) {
	t.Helper()
	var bodies []string
	j, rec, err := OpenJournal(path, cfg, func(b []byte) { bodies = append(bodies, string(b)) })
	if err != nil {
		t.Fatal(err)
	}
	return j, rec, bodies
}

// appendCommit writes frames and commits them.
func appendCommit(t *testing.T, j *Journal, frames []byte) {
	t.Helper()
	if err := j.Write(frames); err != nil {
		t.Fatal(err)
	}
	if err := j.Commit(); err != nil {
		t.Fatal(err)
	}
}

func frames(bodies ...string) []byte {
	var b []byte
	for _, s := range bodies {
		b = appendTestFrame(b, s)
	}
	return b
}

func TestJournalAppendsAndReadsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "j")
	j, rec, bodies := openTestJournal(t, path, testJournal)
	if len(bodies) != 0 || rec.Version != 2 || j.Size() != HeaderSize {
		t.Fatalf("new journal: %v, %+v, size %d", bodies, rec, j.Size())
	}
	appendCommit(t, j, frames("one", "two"))
	appendCommit(t, j, frames("three"))
	if _, _, err := OpenJournal(path, testJournal, func([]byte) {}); !errors.Is(err, ErrInUse) {
		t.Errorf("second open: %v, want ErrInUse", err)
	}
	j.Close()
	j, rec, bodies = openTestJournal(t, path, testJournal)
	defer j.Close()
	if !slices.Equal(bodies, []string{"one", "two", "three"}) || rec.Records != 3 || rec.TornBytes != 0 || rec.Damaged != 0 {
		t.Errorf("read back %q, %+v", bodies, rec)
	}
}

func TestJournalCutsATornTailAndSkipsDamage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	data := append(AppendHeader(nil, testJournal.Magic, 2), frames("one", "two", "three")...)
	two := bytes.Index(data, []byte("two"))
	data[two] ^= 0x20 // bit rot in the middle
	whole := len(data)
	data = append(data, frames("torn")[:7]...) // a write a crash cut short
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	j, rec, bodies := openTestJournal(t, path, testJournal)
	if !slices.Equal(bodies, []string{"one", "three"}) || rec.Damaged != 1 || rec.TornBytes != 7 {
		t.Errorf("read %q, %+v", bodies, rec)
	}
	if j.Size() != int64(whole) {
		t.Errorf("size %d after the cut, want %d", j.Size(), whole)
	}
	appendCommit(t, j, frames("four"))
	j.Close()
	j, _, bodies = openTestJournal(t, path, testJournal)
	defer j.Close()
	if !slices.Equal(bodies, []string{"one", "three", "four"}) {
		t.Errorf("after the cut and an append: %q", bodies)
	}
}

func TestJournalTornHeaderIsANewJournal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	if err := os.WriteFile(path, AppendHeader(nil, testJournal.Magic, 2)[:5], 0o600); err != nil {
		t.Fatal(err)
	}
	j, _, bodies := openTestJournal(t, path, testJournal)
	defer j.Close()
	if len(bodies) != 0 || j.Size() != HeaderSize {
		t.Errorf("torn header: %q, size %d", bodies, j.Size())
	}
}

func TestJournalRewriteWhenDue(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j")
	j, _, _ := openTestJournal(t, path, testJournal)
	defer func() { j.Close() }()
	for i := 0; !j.Due(); i++ {
		if i > 100 {
			t.Fatal("never due")
		}
		appendCommit(t, j, frames(fmt.Sprintf("record %d", i)))
	}
	// Due: the size is past twice the header (the live size at open) and past the minimum.
	if j.Size() <= 2*HeaderSize || j.Size() < 64 {
		t.Errorf("due at %d bytes", j.Size())
	}
	if err := j.Rewrite(frames("live")); err != nil {
		t.Fatal(err)
	}
	if j.Due() {
		t.Error("due right after a rewrite")
	}
	appendCommit(t, j, frames("after"))
	j.Close()
	checkOnlyFiles(t, dir, "j")
	j, _, bodies := openTestJournal(t, path, testJournal)
	if !slices.Equal(bodies, []string{"live", "after"}) {
		t.Errorf("after the rewrite: %q", bodies)
	}
}

func TestJournalRefusesAForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j")
	if err := os.WriteFile(path, []byte("something else entirely\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenJournal(path, testJournal, func([]byte) {}); !errors.Is(err, ErrForeignFile) {
		t.Errorf("open: %v, want ErrForeignFile", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "something else entirely\n" {
		t.Errorf("the file became %q", b)
	}
}

func TestJournalImportsAnOldFormat(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j")
	if err := os.WriteFile(path, []byte("old format\nalpha\nbeta\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testJournal
	cfg.Import = func(old []byte) ([]byte, error) {
		lines := strings.Split(strings.TrimSpace(string(old)), "\n")
		if lines[0] != "old format" {
			return nil, ErrForeignFile
		}
		return frames(lines[1:]...), nil
	}
	j, rec, bodies := openTestJournal(t, path, cfg)
	if !slices.Equal(bodies, []string{"alpha", "beta"}) || !rec.Imported {
		t.Errorf("imported %q, %+v", bodies, rec)
	}
	j.Close()
	checkOnlyFiles(t, dir, "j")
	j, rec, bodies = openTestJournal(t, path, cfg)
	defer j.Close()
	if !slices.Equal(bodies, []string{"alpha", "beta"}) || rec.Imported {
		t.Errorf("reopened %q, %+v", bodies, rec)
	}
	// An unknown file stays as it is.
	other := filepath.Join(dir, "k")
	if err := os.WriteFile(other, []byte("neither\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenJournal(other, cfg, func([]byte) {}); !errors.Is(err, ErrForeignFile) {
		t.Errorf("unknown file: %v", err)
	}
	if b, _ := os.ReadFile(other); string(b) != "neither\n" {
		t.Errorf("the unknown file became %q", b)
	}
}

func TestJournalAbortedRewriteLeavesTheJournal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j")
	j, _, _ := openTestJournal(t, path, testJournal)
	appendCommit(t, j, frames("one"))
	rw, err := j.BeginRewrite()
	if err != nil {
		t.Fatal(err)
	}
	if err := rw.Write(frames("never")); err != nil {
		t.Fatal(err)
	}
	appendCommit(t, j, frames("two")) // appends go on meanwhile
	rw.Abort()
	appendCommit(t, j, frames("three"))
	j.Close()
	checkOnlyFiles(t, dir, "j")
	j, _, bodies := openTestJournal(t, path, testJournal)
	defer j.Close()
	if !slices.Equal(bodies, []string{"one", "two", "three"}) {
		t.Errorf("after an aborted rewrite: %q", bodies)
	}
}
