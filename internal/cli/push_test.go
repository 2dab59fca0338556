package cli

import (
	"io"
	"testing"
)

func TestPushRefusesIncompleteFlags(t *testing.T) {
	for name, args := range map[string][]string{
		"no image":  {"push", "--bundle-path", "b.json"},
		"no bundle": {"push", "--subject-image", "reg.example/a@sha256:" + "aa"},
	} {
		t.Run(name, func(t *testing.T) {
			if code := Run(t.Context(), args, nil, io.Discard, io.Discard); code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
		})
	}
}
