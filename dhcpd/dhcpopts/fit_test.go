package dhcpopts

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func TestOptionSpace(t *testing.T) {
	cases := []struct{ max, mtu, want int }{
		{0, 0, 307},    // no option 57: 576 - 28 - 240 - 1
		{576, 0, 307},  // RFC 2131's minimum options field is 312 incl. cookie and End
		{300, 0, 307},  // below the legal minimum counts as 576
		{1000, 0, 731}, // Avaya 96x1 / J100
		{1500, 1500, 1231},
		{9000, 1500, 1231}, // the MTU caps what the client claims
		{1000, 400, 731},   // an MTU below 576 is not believed
	}
	for _, c := range cases {
		if got := OptionSpace(c.max, c.mtu); got != c.want {
			t.Errorf("OptionSpace(%d, %d) = %d, want %d", c.max, c.mtu, got, c.want)
		}
	}
}

func opt(code uint8, n int) Option {
	return Option{Code: code, Data: bytes.Repeat([]byte{code}, n)}
}

func codes(os []Option) []uint8 {
	out := make([]uint8, len(os))
	for i, o := range os {
		out[i] = o.Code
	}
	return out
}

// avayaReply is what a 96x1 might be offered: the protocol options, what it
// asks for, its site-specific option and some options it did not ask for.
func avayaReply(siteLen int) []Option {
	site := opt(242, siteLen)
	site.Required = true
	return []Option{
		opt(53, 1), opt(54, 4), opt(51, 4), opt(1, 4), opt(3, 4),
		opt(6, 8), opt(15, 20), opt(42, 4), opt(58, 4), opt(59, 4),
		site,
		opt(66, 40), opt(67, 30), opt(150, 8), opt(176, 120),
	}
}

// 9600 admin guide: the phones request 1, 3, 6, 15, 42 and the site-specific option.
var avayaRequest = []uint8{1, 3, 6, 7, 15, 26, 42, 242}

func TestFitAt576DropsUnrequestedFirst(t *testing.T) {
	opts := avayaReply(150)
	space := OptionSpace(576, 0)
	res, err := Fit(space, avayaRequest, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Required 53,54,51,1,3,242: 3+6+6+6+6+152 = 179; requested 6,15,42:
	// 10+22+6 = 38 → 217; then unrequested in order: 58 (6) 59 (6) → 229,
	// 66 (42) → 271, 67 (32) → 303, 150 (10) → 313 > 307 dropped, 176 dropped.
	if got, want := codes(res.Dropped), []uint8{150, 176}; !slices.Equal(got, want) {
		t.Errorf("dropped %v, want %v", got, want)
	}
	if res.Used != 303 || res.Used > space {
		t.Errorf("Used = %d, want 303 (space %d)", res.Used, space)
	}
	if got := codes(res.Kept); !slices.Equal(got, []uint8{53, 54, 51, 1, 3, 6, 15, 42, 58, 59, 242, 66, 67}) {
		t.Errorf("kept %v (should keep the order given)", got)
	}
	if !slices.Equal(res.DroppedCodes(), []uint8{150, 176}) {
		t.Errorf("DroppedCodes() = %v", res.DroppedCodes())
	}
}

func TestFitAt1000KeepsEverything(t *testing.T) {
	opts := avayaReply(150)
	res, err := Fit(OptionSpace(1000, 0), avayaRequest, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Dropped) != 0 || len(res.Kept) != len(opts) {
		t.Fatalf("dropped %v at 1000 bytes", codes(res.Dropped))
	}
	want := 0
	for _, o := range opts {
		want += WireLen(len(o.Data))
	}
	if res.Used != want {
		t.Errorf("Used = %d, want %d", res.Used, want)
	}
}

func TestFitKeepsALongSiteOptionSplitPerRFC3396(t *testing.T) {
	// A 400-byte option 242 needs two instances (404 bytes): too big for 576
	// even alone with the protocol options, fine for 1000.
	opts := avayaReply(400)
	res, err := Fit(OptionSpace(576, 0), avayaRequest, opts)
	if !errors.Is(err, ErrNoRoom) {
		t.Fatalf("576 with a 400-byte site option: %v, want ErrNoRoom", err)
	}
	if got := codes(res.Kept); !slices.Equal(got, []uint8{53, 54, 51, 1, 3, 242}) {
		t.Errorf("with no room, kept %v; want only the required options", got)
	}
	res, err = Fit(OptionSpace(1000, 0), avayaRequest, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(codes(res.Kept), 242) || res.Used > OptionSpace(1000, 0) {
		t.Errorf("1000: kept %v using %d", codes(res.Kept), res.Used)
	}
}

func TestFitFollowsTheClientsPreferenceOrder(t *testing.T) {
	opts := []Option{opt(53, 1), opt(6, 40), opt(42, 40), opt(15, 40)}
	// Room for the message type and two of the three.
	space := 3 + 2*42
	res, err := Fit(space, []uint8{15, 6, 42}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := codes(res.Dropped); !slices.Equal(got, []uint8{42}) {
		t.Errorf("dropped %v, want the last-preferred 42", got)
	}
	res, _ = Fit(space, []uint8{42, 15, 6}, opts)
	if got := codes(res.Dropped); !slices.Equal(got, []uint8{6}) {
		t.Errorf("dropped %v, want 6", got)
	}
}

func TestFitSkipsWhatCannotFitAndKeepsSmallerOnes(t *testing.T) {
	opts := []Option{opt(53, 1), opt(43, 200), opt(66, 20), opt(67, 20)}
	res, err := Fit(100, []uint8{43}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := codes(res.Kept); !slices.Equal(got, []uint8{53, 66, 67}) {
		t.Errorf("kept %v, want 53 66 67 (43 can never fit)", got)
	}
}

func TestFitMandatoryCodesAreNeverDropped(t *testing.T) {
	opts := []Option{opt(43, 10), opt(82, 30), opt(61, 7), opt(53, 1), opt(54, 4)}
	res, err := Fit(3+32+9+6, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := codes(res.Dropped); !slices.Equal(got, []uint8{43}) {
		t.Errorf("dropped %v, want only 43", got)
	}
	for _, c := range []uint8{53, 54, 51, 1, 3, 61, 82} {
		if !Mandatory(c) {
			t.Errorf("Mandatory(%d) = false", c)
		}
	}
	if Mandatory(43) || Mandatory(6) {
		t.Error("Mandatory too wide")
	}
}

func TestFitRefusesDuplicates(t *testing.T) {
	if _, err := Fit(300, nil, []Option{opt(6, 4), opt(6, 4)}); err == nil {
		t.Error("duplicate option codes accepted")
	}
}
