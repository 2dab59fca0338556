// Package workflows_test proves Hallmark's GitHub mode: the example callers
// in examples/ run under act against the sandbox, every bundle they produce
// verifies at SLSA Build L3, and the workflows and actions pass the static
// rules of the house (actionlint, no id-token where caller code runs, no
// event or input data expanded inside run:).
package workflows_test

import (
	"testing"

	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }
