package inventory

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// store is the inventory's bbolt file: one bucket of phones keyed by MAC
// ("c8:1f:ea:83:e8:5a"), each a JSON Phone, and a meta bucket holding the
// schema version. bbolt commits by copy-on-write with fsync, so a crash
// loses at most the transaction in progress and never damages the file.
type store struct {
	db   *bolt.DB
	path string
}

var (
	phonesBucket = []byte("phones")
	metaBucket   = []byte("meta")
	schemaKey    = []byte("schema")
)

const schemaVersion = "1"

func openStore(path string) (*store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("inventory: create folder for %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("inventory: %s is in use by another process (another phoneprov?): stop it or use another data directory", path)
	}
	if err != nil {
		return nil, fmt.Errorf("inventory: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(metaBucket)
		if err != nil {
			return err
		}
		switch v := meta.Get(schemaKey); {
		case v == nil:
			if err := meta.Put(schemaKey, []byte(schemaVersion)); err != nil {
				return err
			}
		case string(v) != schemaVersion:
			return fmt.Errorf("schema version %q, this phoneprov reads %q", v, schemaVersion)
		}
		_, err = tx.CreateBucketIfNotExists(phonesBucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("inventory: %s: %w", path, err)
	}
	return &store{db: db, path: path}, nil
}

// load reads every phone. A record that cannot be read is skipped and
// counted, not fatal: the phone is learnt again at its next boot.
func (s *store) load() (phones []*Phone, skipped []string, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(phonesBucket).ForEach(func(k, v []byte) error {
			var p Phone
			if err := json.Unmarshal(v, &p); err != nil || p.MAC.String() != string(k) {
				skipped = append(skipped, string(k))
				return nil
			}
			phones = append(phones, &p)
			return nil
		})
	})
	if err != nil {
		return nil, nil, fmt.Errorf("inventory: read %s: %w", s.path, err)
	}
	return phones, skipped, nil
}

// write stores changed phones and deletes removed ones in one transaction.
func (s *store) write(changed map[MAC][]byte, removed []MAC) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(phonesBucket)
		for _, mac := range removed {
			if err := b.Delete([]byte(mac.String())); err != nil {
				return err
			}
		}
		for mac, v := range changed {
			if err := b.Put([]byte(mac.String()), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("inventory: write %s: %w", s.path, err)
	}
	return nil
}

func (s *store) close() error { return s.db.Close() }
