package sandbox

// SetFreePorts replaces how Up chooses ports until the returned func runs.
func SetFreePorts(f func(n int) ([]int, error)) (restore func()) {
	old := freePorts
	freePorts = f
	return func() { freePorts = old }
}

// ReservePorts is the real port chooser.
var ReservePorts = reservePorts

// MaxStartAttempts is how often Up starts the servers before giving up on
// ports taken by other processes.
const MaxStartAttempts = maxStartAttempts
