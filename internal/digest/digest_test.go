package digest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/digest"
)

var (
	hex64  = strings.Repeat("ab", 32)
	hex96  = strings.Repeat("cd", 48)
	hex128 = strings.Repeat("ef", 64)
)

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		algs []string
		want digest.Digest
		err  string // part of the message, when it must fail
	}{
		{name: "sha256", in: "sha256:" + hex64, algs: []string{digest.SHA256}, want: digest.Digest{Algorithm: "sha256", Hex: hex64}},
		{name: "sha384", in: "sha384:" + hex96, algs: []string{digest.SHA256, digest.SHA384}, want: digest.Digest{Algorithm: "sha384", Hex: hex96}},
		{name: "sha512", in: "sha512:" + hex128, algs: []string{digest.SHA256, digest.SHA512}, want: digest.Digest{Algorithm: "sha512", Hex: hex128}},
		{name: "sha1", in: "sha1:" + hex64[:40], algs: []string{digest.SHA1}, want: digest.Digest{Algorithm: "sha1", Hex: hex64[:40]}},
		{name: "no colon", in: hex64, algs: []string{digest.SHA256}, err: "want ALG:HEX"},
		{name: "algorithm not accepted", in: "sha384:" + hex96, algs: []string{digest.SHA256, digest.SHA512}, err: `algorithm "sha384": want sha256 or sha512`},
		{name: "algorithm in-toto does not know", in: "blake3:" + hex64, algs: []string{"blake3"}, err: `algorithm "blake3"`},
		{name: "uppercase algorithm", in: "SHA256:" + hex64, algs: []string{digest.SHA256}, err: `algorithm "SHA256"`},
		{name: "short", in: "sha256:abc", algs: []string{digest.SHA256}, err: "digest has 3 characters, want 64 hex digits"},
		{name: "uppercase hex", in: "sha256:" + strings.ToUpper(hex64), algs: []string{digest.SHA256}, err: "uppercase hex digit 'A' at offset 0"},
		{name: "non-hex", in: "sha256:" + hex64[:63] + "g", algs: []string{digest.SHA256}, err: "non-hex character 'g' at offset 63"},
		{name: "long input is cut", in: strings.Repeat("x", 1000), algs: []string{digest.SHA256}, err: "…"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := digest.Parse(tt.in, tt.algs...)
			if tt.err != "" {
				if !errors.Is(err, digest.ErrMalformed) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse(%q) = %v, %v; want ErrMalformed saying %q", tt.in, got, err, tt.err)
				}
				if len(err.Error()) > 300 {
					t.Errorf("error is %d bytes long; a long input must be cut", len(err.Error()))
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want the input %q back", got.String(), tt.in)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		d  digest.Digest
		ok bool
	}{
		{digest.Digest{Algorithm: "sha256", Hex: hex64}, true},
		{digest.Digest{Algorithm: "gitCommit", Hex: hex64[:40]}, true},
		{digest.Digest{Algorithm: "sha512", Hex: hex64}, false},
		{digest.Digest{Algorithm: "blake3", Hex: hex64}, false},
		{digest.Digest{Algorithm: "sha256", Hex: strings.ToUpper(hex64)}, false},
	} {
		err := tt.d.Check()
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, digest.ErrMalformed)) {
			t.Errorf("%v.Check() = %v, want ok=%v", tt.d, err, tt.ok)
		}
	}
}

func TestSet(t *testing.T) {
	s := digest.Set{"sha512": hex128, "sha256": hex64}
	if got, want := s.String(), "sha256:"+hex64+" sha512:"+hex128; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !s.Has(digest.Digest{Algorithm: "sha256", Hex: hex64}) || s.Has(digest.Digest{Algorithm: "sha256", Hex: hex128}) || s.Has(digest.Digest{Algorithm: "sha384", Hex: hex96}) {
		t.Error("Has answers wrongly")
	}
	if got := (digest.Set{}).String(); got != "" {
		t.Errorf("empty set String() = %q", got)
	}
}

func TestOf(t *testing.T) {
	for alg, want := range map[string]string{
		"sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
		"sha384": "59e1748777448c69de6b800d7a33bbfb9ff1b463e44354c3553bcdb9c666fa90125a3c79f90397bdf5f6a13de828684f",
		"sha512": "9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043",
	} {
		d, err := digest.Of(alg, []byte("hello"))
		if err != nil || d.Hex != want || d.Algorithm != alg {
			t.Errorf("Of(%s, hello) = %v, %v; want %s", alg, d, err, want)
		}
	}
	if d := digest.SHA256Of([]byte("hello")); d.String() != "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" {
		t.Errorf("SHA256Of = %v", d)
	}
	if _, err := digest.Of("md5", nil); !errors.Is(err, digest.ErrMalformed) {
		t.Errorf("Of(md5) = %v, want ErrMalformed", err)
	}
}

// FuzzParse: whatever the input, Parse either refuses it with ErrMalformed
// or returns a digest that checks and prints back as the input.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"sha256:" + hex64, "sha512:" + hex128, "sha1:" + hex64[:40], "sha256:", ":", "", "sha256:" + strings.ToUpper(hex64)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := digest.Parse(s, digest.SHA1, digest.SHA256, digest.SHA384, digest.SHA512)
		if err != nil {
			if !errors.Is(err, digest.ErrMalformed) {
				t.Fatalf("Parse(%q): error %v does not match ErrMalformed", s, err)
			}
			return
		}
		if d.String() != s {
			t.Fatalf("Parse(%q) = %v, which prints otherwise", s, d)
		}
		if err := d.Check(); err != nil {
			t.Fatalf("Parse(%q) accepted a digest Check refuses: %v", s, err)
		}
	})
}
