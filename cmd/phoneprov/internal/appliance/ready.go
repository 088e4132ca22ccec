package appliance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/phoneprov/phoneprov/cmd/phoneprov/internal/admin"
)

// readinessChecks are what the admin listener's /readyz requires. The
// admin listener opens only after every file server and DHCP socket has
// been bound, and the process ends when a server stops with an error, so
// what can still go wrong while it runs is checked here:
//
//	files   the operator's tree is still a readable folder (a removed or unmounted tree serves nothing)
//	dhcp    the DHCP server still holds its sockets (DHCP on only)
//	leases  the lease store answers a read (DHCP on only)
func (a *appliance) readinessChecks() []admin.Check {
	checks := []admin.Check{{Name: "files", Run: func(context.Context) error {
		root := a.files.Root()
		d, err := os.Open(root)
		if err != nil {
			return fmt.Errorf("file tree: %w", err)
		}
		defer d.Close()
		if _, err := d.Readdirnames(1); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("file tree %s cannot be read: %w", root, err)
		}
		return nil
	}}}
	if a.dhcp != nil {
		checks = append(checks, admin.Check{Name: "dhcp", Run: func(context.Context) error {
			if !a.dhcp.Bound() {
				return errors.New("the DHCP server holds no sockets (stopped, or not bound yet)")
			}
			return nil
		}})
	}
	if a.leases != nil {
		checks = append(checks, admin.Check{Name: "leases", Run: func(context.Context) error {
			return a.leases.Err()
		}})
	}
	return checks
}
