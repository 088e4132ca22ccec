package inventory

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/phoneprov/phoneprov/internal/durable"
)

// legacyHeader is the first line of the inventory's earlier file format,
// JSON lines: every other line is one change,
//
//	<crc> {"mac":"c8:1f:ea:83:e8:5a",…}   a phone's whole record
//	<crc> -c8:1f:ea:83:e8:5a             the phone was forgotten
//
// where <crc> is the CRC-32C of the rest of the line in 8 hex digits; the
// last line for a MAC wins.
const legacyHeader = "phoneprov inventory journal 1\n"

// importLegacy converts a file in the earlier JSON-lines format to journal
// frames, one record per phone; durable.OpenJournal then replaces the file
// with them. Lines that cannot be read (a torn last line, bit rot) are
// left out, as the old reader skipped them. Any other file is refused as
// durable.ErrForeignFile.
func importLegacy(old []byte) ([]byte, error) {
	if !bytes.HasPrefix(old, []byte(legacyHeader)) {
		return nil, fmt.Errorf("not a phoneprov inventory journal this version reads (first line %q); move it away to start afresh: %w",
			firstLine(old), durable.ErrForeignFile)
	}
	byMAC := map[MAC]*Phone{}
	var order []MAC // first appearance, so the import is deterministic
	for line := range bytes.Lines(old[len(legacyHeader):]) {
		body, ok := bytes.CutSuffix(line, []byte("\n"))
		if !ok {
			break // torn
		}
		mac, p, ok := legacyLine(body)
		if !ok {
			continue
		}
		if _, seen := byMAC[mac]; !seen && p != nil {
			order = append(order, mac)
		}
		if p == nil {
			delete(byMAC, mac)
		} else {
			byMAC[mac] = p
		}
	}
	var frames []byte
	for _, mac := range order {
		if p := byMAC[mac]; p != nil {
			frames = appendPhoneFrame(frames, p)
			delete(byMAC, mac) // a MAC forgotten and learnt again is listed twice
		}
	}
	return frames, nil
}

// legacyLine reads one line of the earlier format (without its newline):
// the MAC and its record, or nil for a removal; ok is false for a line
// that cannot be read.
func legacyLine(line []byte) (mac MAC, p *Phone, ok bool) {
	if len(line) < 10 || line[8] != ' ' {
		return mac, nil, false
	}
	var sum [4]byte
	if _, err := hex.Decode(sum[:], line[:8]); err != nil {
		return mac, nil, false
	}
	body := line[9:]
	if crc32.Checksum(body, durable.Castagnoli) != uint32(sum[0])<<24|uint32(sum[1])<<16|uint32(sum[2])<<8|uint32(sum[3]) {
		return mac, nil, false
	}
	if body[0] == '-' {
		m, err := ParseMAC(string(body[1:]))
		return m, nil, err == nil
	}
	p = &Phone{}
	if err := json.Unmarshal(body, p); err != nil || p.MAC.IsZero() {
		return mac, nil, false
	}
	p.State, p.StateReason = "", ""
	return p.MAC, p, true
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	if len(line) > 40 {
		return string(line[:40]) + "…"
	}
	return string(line)
}

// adoptEarlierFile moves the inventory file of earlier versions (earlier)
// to path when path does not exist yet, so the journal's importer converts
// it there. It holds the earlier file's lock while moving it, so a running
// older phoneprov never has its file taken away.
func adoptEarlierFile(path, earlier string) error {
	if earlier == "" {
		return nil
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil // the journal exists (or a stat error that opening it reports)
	}
	if _, err := os.Stat(earlier); err != nil {
		return nil // nothing to adopt
	}
	f, err := durable.OpenLocked(earlier, "the inventory of an earlier version", 0o600, 0)
	if err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	defer f.Close()
	if err := os.Rename(earlier, path); err != nil {
		return fmt.Errorf("inventory: move the earlier file to the journal: %w", err)
	}
	if err := durable.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	return nil
}
