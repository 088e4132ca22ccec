// Package storm boots many simulated phones at once (a power cut coming
// back, a switch reload), shows their progress and sums up how it went:
// how many were provisioned, which failed where and why, how long they
// took, and how many bytes each protocol carried.
package storm

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/phoneprov/phoneprov/cmd/phonesim/internal/model"
)

// Weight is one entry of a mix: a model and its share.
type Weight struct {
	Model  model.Model
	Weight int
}

// DefaultMix is a plausible Avaya site with a few phones of other vendors.
const DefaultMix = "j179=24,9608=20,9641=12,1608=8,4621=8,7941=4,7841=3,vvx410=4,t41p=4,snom710=3,gxp1628=3,5320=3,6731i=4"

// ParseMix reads "j179=40,9608=30,4621=10": model keys (or names) of the
// catalog with whole-number weights. A model may appear once; weights
// need not add up to 100.
func ParseMix(cat model.Catalog, s string) ([]Weight, error) {
	var out []Weight
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("mix %q: %q needs the form model=weight", s, part)
		}
		m, found := cat.Lookup(strings.TrimSpace(name))
		if !found {
			return nil, fmt.Errorf("mix: unknown model %q (known: %s)", name, strings.Join(cat.Keys(), ", "))
		}
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("mix: weight of %s is %q, not a whole number ≥ 0", name, w)
		}
		if slices.ContainsFunc(out, func(x Weight) bool { return x.Model.Key == m.Key }) {
			return nil, fmt.Errorf("mix: %s given twice", m.Key)
		}
		out = append(out, Weight{Model: m, Weight: n})
	}
	total := 0
	for _, w := range out {
		total += w.Weight
	}
	if total == 0 {
		return nil, fmt.Errorf("mix %q: no model with a weight above 0", s)
	}
	return out, nil
}

// Allocate turns weights into n models: each model gets its share rounded
// by the largest-remainder method (so the counts add up to n), and the
// boot order is shuffled with rng so models are mixed in time.
func Allocate(mix []Weight, n int, rng *rand.Rand) []model.Model {
	total := 0
	for _, w := range mix {
		total += w.Weight
	}
	if total == 0 || n <= 0 {
		return nil
	}
	counts := make([]int, len(mix))
	type rem struct{ i, r int }
	rems := make([]rem, len(mix))
	given := 0
	for i, w := range mix {
		counts[i] = n * w.Weight / total
		rems[i] = rem{i, n * w.Weight % total}
		given += counts[i]
	}
	// Largest remainders first; ties go to the earlier model.
	slices.SortStableFunc(rems, func(a, b rem) int { return b.r - a.r })
	for k := 0; given < n; k++ {
		counts[rems[k%len(rems)].i]++
		given++
	}
	out := make([]model.Model, 0, n)
	for i, c := range counts {
		for range c {
			out = append(out, mix[i].Model)
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
