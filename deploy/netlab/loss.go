package netlab

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// DropUDPInput makes the namespace drop percent per cent (1..99) of the UDP
// packets it receives, chosen at random, with an nftables rule on input:
//
//	meta l4proto udp numgen random mod 100 < percent drop
//
// It stands in for netem, which these kernels lack. Applied in both
// namespaces of a Pair it makes a link lossy both ways. The table goes away
// with the namespace. It needs the nft command (nftables).
func (n *Namespace) DropUDPInput(percent int) error {
	if percent < 1 || percent > 99 {
		return fmt.Errorf("netlab: drop %d%% of UDP: outside 1..99", percent)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return fmt.Errorf("netlab: drop UDP in %s: the nft command (nftables) is not installed", n.Name)
	}
	rules := fmt.Sprintf(`table inet netlab_loss {
	chain input {
		type filter hook input priority 0; policy accept;
		meta l4proto udp numgen random mod 100 < %d drop
	}
}
`, percent)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := n.Command(ctx, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("netlab: drop %d%% of UDP in %s: nft: %w: %s", percent, n.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}
