package oci_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
)

// TestCheckPush: the check passes where a push would, and fails where it
// would not, writing nothing either way.
func TestCheckPush(t *testing.T) {
	ctx := context.Background()
	reg := ocitest.Distribution(t, ocitest.WithHtpasswd("builder", "s3cret-pass"))
	ocitest.DockerConfig(t, reg)
	img := reg.Image(t, "acme/app", "v1")

	if _, err := oci.CheckPush(ctx, img); err != nil {
		t.Fatalf("CheckPush with good credentials: %v", err)
	}
	if _, err := oci.Discover(ctx, img, slsaV1); !errors.Is(err, oci.ErrNoAttestation) {
		t.Fatalf("after CheckPush: err = %v, want ErrNoAttestation: the check writes nothing", err)
	}

	missing, _ := name.NewDigest(reg.Repo("acme/app") + "@sha256:" + strings.Repeat("0", 64))
	if _, err := oci.CheckPush(ctx, missing); !errors.Is(err, oci.ErrNotFound) {
		t.Errorf("missing image: err = %v, want ErrNotFound", err)
	}

	ocitest.DockerConfig(t, &ocitest.Registry{Host: reg.Host, User: "builder", Password: "wrong"})
	if _, err := oci.CheckPush(ctx, img); !errors.Is(err, oci.ErrUnauthorized) {
		t.Errorf("wrong password: err = %v, want ErrUnauthorized", err)
	}

	down, _ := name.NewDigest(ocitest.DownAddr(t) + "/acme/app@" + img.DigestStr())
	if _, err := oci.CheckPush(ctx, down); !errors.Is(err, oci.ErrUnreachable) {
		t.Errorf("registry down: err = %v, want ErrUnreachable", err)
	}
}

// TestRegistryTimeRules: a registry that asks for time with Retry-After
// gets it, a try without an answer is abandoned after the per-try timeout
// and retried, and the caller's deadline ends it all.
func TestRegistryTimeRules(t *testing.T) {
	var mode atomic.Value // "429", "hang" or "" to pass
	var tries atomic.Int32
	reg := ocitest.Referrers(t, ocitest.WithMiddleware(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch mode.Load() {
			case "429":
				if tries.Add(1) == 1 {
					w.Header().Set("Retry-After", "1")
					w.WriteHeader(http.StatusTooManyRequests)
					return
				}
			case "hang":
				tries.Add(1)
				<-r.Context().Done()
				return
			}
			next.ServeHTTP(w, r)
		})
	}))
	ocitest.DockerConfig(t, reg)
	mode.Store("")
	img := reg.Image(t, "acme/app", "v1")

	t.Run("Retry-After", func(t *testing.T) {
		mode.Store("429")
		tries.Store(0)
		start := time.Now()
		if _, err := oci.CheckPush(context.Background(), img); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < time.Second {
			t.Errorf("retried after %s: the registry asked for 1s", waited)
		}
	})
	t.Run("per-try timeout and deadline", func(t *testing.T) {
		mode.Store("hang")
		tries.Store(0)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := oci.CheckPush(ctx, img, oci.WithTimeout(300*time.Millisecond), oci.WithRetries(10))
		if !errors.Is(err, oci.ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
		if took := time.Since(start); took > 4*time.Second {
			t.Errorf("took %s: the deadline must end the retries", took)
		}
		if n := tries.Load(); n < 2 {
			t.Errorf("%d tries: a try without an answer must be abandoned and retried", n)
		}
	})
}
