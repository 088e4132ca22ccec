package firmware

import "slices"

// HardwareSplit is a model whose firmware comes as two images, one for its
// early hardware versions and one for later hardware, so an upgrade script
// must branch on the phone's $HWVERS before it names the file.
type HardwareSplit struct {
	Model string // $MODEL4 value, "J189"
	// Variant is the suffix the model token carries in the name of the image
	// for later hardware: "A" in FW_S_J189A_R….bin. The image without it
	// fits only the hardware versions in Early.
	Variant string
	// Early are the $HWVERS values of the hardware that takes the image
	// without the suffix.
	Early []string
	// Variable is the script variable holding the hardware version.
	Variable string
	// Source says where the split is documented.
	Source string
}

// hardwareSplits is the table behind HardwareSplits.
//
// J189: Avaya's own J100Supgrade.txt as shipped in wazo-provd-plugins
// (plugins/wazo_avaya/v4_1_3/var/tftpboot/J100Supgrade.txt) sends
// "IF $HWVERS SEQ 1|2|3 GOTO J189_SW_OLD" to FW_S_J189_R….bin and every
// other J189 to FW_S_J189A_R….bin.
var hardwareSplits = []HardwareSplit{
	{Model: "J189", Variant: "A", Early: []string{"1", "2", "3"}, Variable: "HWVERS",
		Source: "wazo-provd-plugins plugins/wazo_avaya/v4_1_3/var/tftpboot/J100Supgrade.txt"},
}

// HardwareSplits returns the models whose firmware depends on their
// hardware version (a copy).
func HardwareSplits() []HardwareSplit {
	out := make([]HardwareSplit, len(hardwareSplits))
	for i, h := range hardwareSplits {
		h.Early = slices.Clone(h.Early)
		out[i] = h
	}
	return out
}

// SplitFor returns the hardware split of a model, if it has one.
func SplitFor(model string) (HardwareSplit, bool) {
	for _, h := range HardwareSplits() {
		if h.Model == model {
			return h, true
		}
	}
	return HardwareSplit{}, false
}

// FitsHardware reports whether the image may be given to the model's
// hardware variant: variant is "" for a model's early hardware (or for any
// hardware of a model without a split) and HardwareSplit.Variant for later
// hardware.
func (im Image) FitsHardware(model, variant string) bool {
	if _, split := SplitFor(model); !split {
		return true
	}
	return im.Variants[model] == variant
}
