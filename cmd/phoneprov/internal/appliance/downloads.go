package appliance

import (
	"github.com/phoneprov/phoneprov/provisioning/downloads"
)

// buildDownloads makes the cap on concurrent firmware downloads that the
// file server asks before sending an image.
func (a *appliance) buildDownloads() error {
	l, err := downloads.New(a.cfg.Provisioning.Downloads, a.reg)
	if err != nil {
		return err
	}
	a.downloads = l
	return nil
}
