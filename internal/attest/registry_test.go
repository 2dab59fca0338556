package attest

import (
	"errors"
	"testing"
)

func TestPushCommand(t *testing.T) {
	f := Request{
		SubjectImages:         []string{"reg.example/a@sha256:aa", "reg.example/b@sha256:bb"},
		AllowInsecureRegistry: true, PushLegacyTag: true, PushDeadline: DefaultPushDeadline,
	}
	pe := &pushError{err: errors.New("500"), images: f.SubjectImages[1:]}
	got := pushCommand(f, []string{"out/my bundle.sigstore.json"}, pe)
	want := "hallmark push --subject-image reg.example/b@sha256:bb --bundle-path 'out/my bundle.sigstore.json' --push-legacy-tag --allow-insecure-registry"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	f.PushDeadline = DefaultPushDeadline * 2
	if got := pushCommand(f, []string{"b.json"}, pe); got != "hallmark push --subject-image reg.example/b@sha256:bb --bundle-path b.json --push-legacy-tag --allow-insecure-registry --push-deadline 1m0s" {
		t.Errorf("got %s: want the push deadline carried over", got)
	}
	// The legacy layer's timestamp comes from the signing config's TSA.
	f.PushDeadline = DefaultPushDeadline
	f.SigningConfig, f.TrustedRoot = "sb/signing_config.json", "sb/trusted_root.json"
	if got := pushCommand(f, []string{"b.json"}, pe); got != "hallmark push --subject-image reg.example/b@sha256:bb --bundle-path b.json --push-legacy-tag --signing-config sb/signing_config.json --trusted-root sb/trusted_root.json --allow-insecure-registry" {
		t.Errorf("got %s: want the signing config and trusted root carried over", got)
	}
}
