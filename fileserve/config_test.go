package fileserve

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
)

func TestBindErrorsSayWhatToDo(t *testing.T) {
	for errno, want := range map[syscall.Errno]string{
		syscall.EACCES:        "CAP_NET_BIND_SERVICE",
		syscall.EADDRINUSE:    "address already in use",
		syscall.EADDRNOTAVAIL: "no interface has that address",
	} {
		err := bindError("http", ":80", fmt.Errorf("listen tcp :80: bind: %w", errno))
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "fileserve.http.listen") {
			t.Errorf("%v: %v", errno, err)
		}
	}
}

func TestDefaultConfigIsValid(t *testing.T) {
	DefaultConfig().Validate(func(key string, err error) { t.Errorf("%s: %v", key, err) })
}
