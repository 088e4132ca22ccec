package durable

import (
	"bufio"
	"strings"
	"testing"
)

func TestFindLockHolderParsesProcLocks(t *testing.T) {
	const locks = `1: POSIX  ADVISORY  WRITE 900 fd:01:42 0 EOF
2: FLOCK  ADVISORY  WRITE 1234 fd:01:1835021 0 EOF
2: -> FLOCK  ADVISORY  WRITE 5678 fd:01:1835021 0 EOF
3: FLOCK  ADVISORY  READ 4321 08:02:77 0 EOF
`
	for want, key := range map[int]string{1234: "fd:01:1835021", 4321: "08:02:77", 0: "fd:01:42"} {
		pid, ok := findLockHolder(bufio.NewScanner(strings.NewReader(locks)), key)
		if pid != want || ok != (want != 0) {
			t.Errorf("findLockHolder(%s) = %d, %v; want %d", key, pid, ok, want)
		}
	}
}
