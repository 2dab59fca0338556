//go:build unix

package verifier_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time the process has used, user and system: what a
// benchmark costs whatever else the machine runs.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
