package cli

import (
	"errors"
	"io"
	"testing"
)

func TestPushCommand(t *testing.T) {
	f := attestFlags{
		subjectImages:         []string{"reg.example/a@sha256:aa", "reg.example/b@sha256:bb"},
		allowInsecureRegistry: true, pushLegacyTag: true, pushDeadline: defaultPushDeadline,
	}
	pe := &pushError{err: errors.New("500"), images: f.subjectImages[1:]}
	got := pushCommand(f, []string{"out/my bundle.sigstore.json"}, pe)
	want := "hallmark push --subject-image reg.example/b@sha256:bb --bundle-path 'out/my bundle.sigstore.json' --push-legacy-tag --allow-insecure-registry"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	f.pushDeadline = defaultPushDeadline * 2
	if got := pushCommand(f, []string{"b.json"}, pe); got != "hallmark push --subject-image reg.example/b@sha256:bb --bundle-path b.json --push-legacy-tag --allow-insecure-registry --push-deadline 1m0s" {
		t.Errorf("got %s: want the push deadline carried over", got)
	}
	// The legacy layer's timestamp comes from the signing config's TSA.
	f.pushDeadline = defaultPushDeadline
	f.signingConfig, f.trustedRoot = "sb/signing_config.json", "sb/trusted_root.json"
	if got := pushCommand(f, []string{"b.json"}, pe); got != "hallmark push --subject-image reg.example/b@sha256:bb --bundle-path b.json --push-legacy-tag --signing-config sb/signing_config.json --trusted-root sb/trusted_root.json --allow-insecure-registry" {
		t.Errorf("got %s: want the signing config and trusted root carried over", got)
	}
}

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
