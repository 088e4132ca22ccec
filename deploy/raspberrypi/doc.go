// Package raspberrypi holds the Raspberry Pi OS image recipe: make-image.sh
// turns an official Raspberry Pi OS image into one that installs phoneprov on
// its first boot (phoneprov-firstboot and its unit), with a static address and
// the DHCP server on. No Go code ships from here; the package exists so that
// `go test ./...` runs the recipe's tests.
package raspberrypi
