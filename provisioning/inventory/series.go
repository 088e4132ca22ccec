package inventory

import (
	"path"
	"slices"
	"strings"

	"github.com/phoneprov/phoneprov/provisioning/firmware"
)

// Where a phone's model was learnt, for Phone.ModelFrom, from the least to
// the best founded. A source replaces a model learnt from one no better
// founded than itself.
const (
	ModelFromBackup        = "backup"         // the name of its settings backup (<ext>_16xxdata.txt)
	ModelFromUpgradeScript = "upgrade-script" // the first file it asked for (46xxupgrade.scr, 96x1Hupgrade.txt, …)
	ModelFromFirmware      = "firmware"       // the firmware image it downloaded
	ModelFromVendorClass   = "vendor-class"   // DHCP option 60
	ModelFromUserAgent     = "user-agent"     // its HTTP User-Agent
)

var modelSourceRank = []string{"", ModelFromBackup, ModelFromUpgradeScript, ModelFromFirmware, ModelFromVendorClass, ModelFromUserAgent}

// setModel records model, learnt from source, unless p's model came from a
// better-founded source.
func setModel(p *Phone, model, source string) {
	if model == "" || slices.Index(modelSourceRank, source) < slices.Index(modelSourceRank, p.ModelFrom) {
		return
	}
	setIf(&p.Model, model)
	p.ModelFrom = source
}

// upgradeScript reports the series whose upgrade script a file name is: an
// Avaya phone asks for it first at every boot, and its name tells the
// series and, for the 96x1, the signalling (IP Office manual 15-601046 as
// quoted in the project reference, "Download sequence").
func upgradeScript(name string) (firmware.SeriesInfo, bool) {
	return firmware.ByScript(path.Base(name))
}

// backupClass reads the series from a settings backup's name: only the
// 1600 name (<ext>_16xxdata.txt, 1600 admin guide 16-601443 p.106-107)
// names one series. <ext>_96xxdata.txt is written by 9600 and 96x1 phones
// alike (project reference, "Backup and restore"), so it names none.
func backupClass(name string) string {
	if strings.HasSuffix(strings.ToLower(path.Base(name)), "_16xxdata.txt") {
		info, _ := firmware.Lookup(firmware.Series16xx)
		return info.ModelClass()
	}
	return ""
}

// fits reports whether firmware for fw (a model or class, "" when the
// image is for several models) may run on a phone recorded as model: one
// names the other, or one's models include the other's.
func fits(model, fw string) bool {
	if fw == "" || model == "" || strings.EqualFold(model, fw) {
		return true
	}
	a, okA := firmware.ParseModelClass(model)
	b, okB := firmware.ParseModelClass(fw)
	if !okA || !okB {
		return false
	}
	if a.Series != "" && b.Series != "" && a.Series != b.Series ||
		a.Signalling != "" && b.Signalling != "" && a.Signalling != b.Signalling {
		return false
	}
	for _, m := range a.Models {
		if slices.Contains(b.Models, m) {
			return true
		}
	}
	return false
}
