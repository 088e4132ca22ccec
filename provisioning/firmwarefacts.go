package provisioning

import (
	"context"

	"github.com/phoneprov/phoneprov/provisioning/firmware"
)

// FirmwareOf says whether a served file name is a phone firmware image and,
// when the tree's catalog knows it, for which model and version (in
// firmware.Canonical form). The inventory uses it to credit a phone with
// the firmware it downloaded.
func (g *Generator) FirmwareOf(name string) (model, version string, ok bool) {
	im, ok := g.image(name)
	if !ok || im.Setting != "APPNAME" {
		return "", "", false
	}
	if len(im.Models) == 1 {
		model = im.Models[0]
	}
	if !im.Version.IsZero() {
		version = firmware.Canonical(im.Version.String())
	}
	return model, version, true
}

// NewestFirmware returns the newest firmware version present in the tree
// (in firmware.Canonical form) for a model as the inventory records it
// (firmware.ParseModelClass): a $MODEL4 value such as "J179" or "9608", of
// either signalling, or a series and protocol such as "96x1 SIP" or "46xx
// H.323" for phones that do not reveal their model. For a series, the
// answer is given only when every model of it with firmware present is
// offered the same version; otherwise which applies cannot be known.
func (g *Generator) NewestFirmware(model string) (string, bool) {
	class, ok := firmware.ParseModelClass(model)
	if !ok {
		return "", false
	}
	s, err := g.current(context.Background())
	if err != nil {
		return "", false
	}
	var answer *firmware.Version
	for _, m := range class.Models {
		var best *firmware.Version
		for _, im := range s.catalog.Images {
			if im.Setting != "APPNAME" || !im.For(m) ||
				class.Series != "" && im.Series != class.Series ||
				class.Signalling != "" && im.Signalling != class.Signalling {
				continue
			}
			if best == nil || firmware.Compare(im.Version, *best) > 0 {
				v := im.Version
				best = &v
			}
		}
		switch {
		case best == nil:
		case answer == nil:
			answer = best
		case firmware.Canonical(answer.String()) != firmware.Canonical(best.String()):
			return "", false
		}
	}
	if answer == nil {
		return "", false
	}
	return firmware.Canonical(answer.String()), true
}

func (g *Generator) image(name string) (firmware.Image, bool) {
	if s, err := g.current(context.Background()); err == nil {
		if im, ok := s.catalog.Image(name); ok {
			return im, true
		}
	}
	return firmware.Recognise(name)
}
