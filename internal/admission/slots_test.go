package admission

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestVerificationsAtOnce: with every verification slot taken, another
// image waits, and at its deadline is denied saying why and what to raise;
// it never starts a verification (and so never reads a registry) beyond
// the bound that keeps verification's memory within the pod's limit.
func TestVerificationsAtOnce(t *testing.T) {
	s := &Server{slots: make(chan struct{}, 2)}
	s.slots <- struct{}{}
	s.slots <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	_, err := s.verify(ctx, nil, "registry.example/acme/app:v1", credentials{})
	if !errors.Is(err, errBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want errBusy at the deadline", err)
	}
	if now := time.Now(); now.Before(deadline) {
		t.Fatalf("denied %s before the deadline", deadline.Sub(now))
	}
	f := registryFailure("registry.example/acme/app:v1", err)
	if f.Check != CheckRegistry || !strings.Contains(f.Fix, "--max-verifications") || !strings.Contains(f.Message, "2 images were being verified") {
		t.Fatalf("failure %+v", f)
	}
	if len(s.slots) != 2 {
		t.Fatalf("%d slots taken after a wait that took none; want the 2 held", len(s.slots))
	}
}
