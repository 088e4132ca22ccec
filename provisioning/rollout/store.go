package rollout

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/phoneprov/phoneprov/internal/durable"
)

// stateFile is the file in the roll-outs folder that holds State.
const stateFile = "state.json"

// ReadState reads the roll-outs' state from dir (<data_dir>/rollouts);
// no file yet is an empty state. The file is only ever replaced whole
// (durable.WriteFile), so it is safe to read while the appliance runs.
func ReadState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &State{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rollout: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("rollout: %s is not readable (%w); move it away to start over", filepath.Join(dir, stateFile), err)
	}
	for _, r := range s.Rollouts {
		if r.Members == nil {
			r.Members = map[string]*Member{}
		}
	}
	return &s, nil
}

// writeState replaces the state file atomically, creating dir if needed.
func writeState(dir string, s *State) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("rollout: %w", err)
	}
	data, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return fmt.Errorf("rollout: %w", err)
	}
	if err := durable.WriteFile(filepath.Join(dir, stateFile), data, 0o644); err != nil {
		return fmt.Errorf("rollout: save state: %w", err)
	}
	return nil
}
