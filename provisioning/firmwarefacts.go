package provisioning

import (
	"context"
	"strings"

	"github.com/phoneprov/phoneprov/provisioning/firmware"
)

// FirmwareOf says whether a served file name is a phone firmware image and,
// when the tree's catalog knows it, for which model and version. The
// inventory uses it to credit a phone with the firmware it downloaded.
func (g *Generator) FirmwareOf(name string) (model, version string, ok bool) {
	im, ok := g.image(name)
	if !ok || im.Setting != "APPNAME" {
		return "", "", false
	}
	if len(im.Models) == 1 {
		model = im.Models[0]
	}
	return model, im.Version.String(), true
}

// NewestFirmware returns the newest firmware version present in the tree
// for a model ($MODEL4, such as "J179" or "9608"), of either signalling.
func (g *Generator) NewestFirmware(model string) (string, bool) {
	s, err := g.current(context.Background())
	if err != nil {
		return "", false
	}
	var best *firmware.Image
	for i, im := range s.catalog.Images {
		if im.Setting != "APPNAME" || !im.For(strings.ToUpper(model)) {
			continue
		}
		if best == nil || firmware.Compare(im.Version, best.Version) > 0 {
			best = &s.catalog.Images[i]
		}
	}
	if best == nil {
		return "", false
	}
	return best.Version.String(), true
}

func (g *Generator) image(name string) (firmware.Image, bool) {
	if s, err := g.current(context.Background()); err == nil {
		if im, ok := s.catalog.Image(name); ok {
			return im, true
		}
	}
	return firmware.Recognise(name)
}
