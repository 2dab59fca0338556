package verifier_test

import (
	"sync"
	"testing"

	"github.com/hallmark-dev/hallmark/verifier"
)

// TestParsePattern: bad expressions are refused when the pattern is
// parsed, though the matcher is built on first use; patterns match as
// written, from any number of goroutines at once.
func TestParsePattern(t *testing.T) {
	for _, bad := range []string{"regexp:(", "regexp:a{2,1}", "regexp:x{1001}", "glob:{a,b", "glob:a}b", "glob:{a,{b}}"} {
		if _, err := verifier.ParsePattern(bad); err == nil {
			t.Errorf("ParsePattern(%q) accepted", bad)
		}
	}
	for _, tc := range []struct {
		pattern string
		yes, no []string
	}{
		{"https://github.com/acme/x.yml@refs/tags/v1", []string{"https://github.com/acme/x.yml@refs/tags/v1"}, []string{"https://github.com/acme/x.yml@refs/tags/v10", ""}},
		{"glob:https://github.com/acme/*.yml@refs/tags/v{1,2}.*", []string{"https://github.com/acme/x.yml@refs/tags/v1.0", "https://github.com/acme/y.yml@refs/tags/v2.3"}, []string{"https://github.com/acme/a/x.yml@refs/tags/v1.0", "https://github.com/acme/x.yml@refs/tags/v3.0", "xhttps://github.com/acme/x.yml@refs/tags/v1.0"}},
		{"glob:spiffe://example.org/**", []string{"spiffe://example.org/a/b"}, []string{"spiffe://example.org.evil/a"}},
		{"regexp:https://github\\.com/acme/.+", []string{"https://github.com/acme/x"}, []string{"https://github.com/acme/", "https://github.com/acme/x\nhttps://evil"}},
	} {
		p, err := verifier.ParsePattern(tc.pattern)
		if err != nil {
			t.Fatalf("ParsePattern(%q): %v", tc.pattern, err)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for _, s := range tc.yes {
					if !p.Match(s) {
						t.Errorf("%s does not match %q", tc.pattern, s)
					}
				}
				for _, s := range tc.no {
					if p.Match(s) {
						t.Errorf("%s matches %q", tc.pattern, s)
					}
				}
			})
		}
		wg.Wait()
	}
}
