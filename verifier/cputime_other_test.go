//go:build !unix

package verifier_test

import "time"

// processCPU is not measured here: benchmarks report wall time alone.
func processCPU() time.Duration { return 0 }
