package benchkit

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// NetCounter reads one counter of the network namespace process pid lives
// in, from /proc/PID/net/FILE: "snmp" (Udp RcvbufErrors, …) or "netstat"
// (TcpExt ListenOverflows, …).
func NetCounter(pid int, file, section, name string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, file))
	if err != nil {
		return 0, fmt.Errorf("%s counters: %w", section, err)
	}
	return ParseNetCounter(string(b), section, name)
}

// ParseNetCounter finds counter name of section in the text of
// /proc/net/snmp or /proc/net/netstat, where each section is a line of
// names ("Udp: InDatagrams NoPorts …") followed by a line of values
// ("Udp: 68248083 165 …").
func ParseNetCounter(text, section, name string) (int64, error) {
	prefix := section + ":"
	var names []string
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != prefix {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == name && i < len(f) {
				v, err := strconv.ParseInt(f[i], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("%s counters: %s %q: %w", section, name, f[i], err)
				}
				return v, nil
			}
		}
		break
	}
	return 0, fmt.Errorf("%s counters: no %s", section, name)
}
