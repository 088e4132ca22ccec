package main

import (
	"context"

	"github.com/phoneprov/phoneprov/cmd/internal/benchkit"
)

// stormProgram is phonebench -storm: the boot-storm benchmark, with the
// exit statuses of the file benchmarks.
func stormProgram() benchkit.Program[stormOptions] {
	return benchkit.Program[stormOptions]{
		Name:    "phonebench",
		Parse:   parseStormOptions,
		Resolve: (*stormOptions).resolveTools,
		Run: func(ctx context.Context, o stormOptions, progress func(string)) (benchkit.Report, error) {
			rep, err := stormBench(ctx, o, progress)
			if rep == nil || len(rep.Runs) == 0 && len(rep.Limit) == 0 {
				return nil, err
			}
			return rep, err
		},
		Out:         func(o stormOptions) string { return o.Out },
		Interrupted: "servers stopped, lab removed, nothing written",
	}
}
