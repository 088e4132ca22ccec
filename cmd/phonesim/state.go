package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/phone"
	"github.com/phoneprov/phoneprov/internal/durable"
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
	if err := durable.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("-state: %w", err)
	}
	return nil
}
