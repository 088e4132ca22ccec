package benchkit

import (
	"testing"
	"time"
)

func TestCgroup2Mount(t *testing.T) {
	hybrid := `25 31 0:23 / /sys type sysfs rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
33 25 0:28 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
34 33 0:29 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
35 33 0:30 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
`
	if got, ok := cgroup2Mount(hybrid); !ok || got != "/sys/fs/cgroup/unified" {
		t.Errorf("cgroup2Mount(hybrid) = %q, %v", got, ok)
	}
	if got, ok := cgroup2Mount("35 33 0:30 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"); ok {
		t.Errorf("cgroup2Mount(v1 only) = %q, want none", got)
	}
}

func TestCgroup2Path(t *testing.T) {
	in := "12:memory:/user.slice\n1:name=systemd:/user.slice/session-3.scope\n0::/user.slice/session-3.scope\n"
	if got, ok := cgroup2Path(in); !ok || got != "/user.slice/session-3.scope" {
		t.Errorf("cgroup2Path = %q, %v", got, ok)
	}
	if got, ok := cgroup2Path("4:memory:/x\n"); ok {
		t.Errorf("cgroup2Path(v1 only) = %q, want none", got)
	}
}

func TestParseCPUStat(t *testing.T) {
	got, err := parseCPUStat("usage_usec 398948\nuser_usec 201527\nsystem_usec 197420\nnice_usec 0\n")
	if err != nil || got != 398948*time.Microsecond {
		t.Errorf("parseCPUStat = %v, %v", got, err)
	}
	if _, err := parseCPUStat("user_usec 1\n"); err == nil {
		t.Error("parseCPUStat accepted a file without usage_usec")
	}
}
