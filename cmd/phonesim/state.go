package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/phone"
)

// loadState restores the phones a -state file remembers (by MAC) and
// reports how many it restored; a missing file restores none.
func loadState(path string, phones []*phone.Phone) (int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("-state: %w", err)
	}
	var kept map[string]phone.Flash
	if err := json.Unmarshal(data, &kept); err != nil {
		return 0, fmt.Errorf("-state %s: %w", path, err)
	}
	n := 0
	for _, p := range phones {
		if f, ok := kept[p.MAC.String()]; ok {
			p.Restore(f)
			n++
		}
	}
	return n, nil
}

// saveState writes what every phone keeps to path, replacing it whole
// (a temporary file renamed over it), merged into the phones it already
// held that this run did not power on.
func saveState(path string, phones []*phone.Phone) error {
	kept := map[string]phone.Flash{}
	if data, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(data, &kept); err != nil {
			return fmt.Errorf("-state %s: %w", path, err)
		}
	}
	for _, p := range phones {
		kept[p.MAC.String()] = p.Flash()
	}
	data, err := json.MarshalIndent(kept, "", " ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".phonesim-state-*")
	if err != nil {
		return fmt.Errorf("-state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("-state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("-state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("-state: %w", err)
	}
	return nil
}
