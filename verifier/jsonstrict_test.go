package verifier

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
)

// TestFoldKeyASCII: the ASCII shortcut gives every ASCII rune the smallest
// rune of its case-folding orbit, as the general path does.
func TestFoldKeyASCII(t *testing.T) {
	for r := rune(0); r < 0x80; r++ {
		want := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			want = min(want, f)
		}
		if got := foldKey(string(r)); got != string(want) {
			t.Errorf("foldKey(%q) = %q, want %q", r, got, want)
		}
	}
	// Mixed keys take the general path, and fold alike.
	if foldKey("ſecret") != foldKey("Secret") || foldKey("\u212aey") != foldKey("key") {
		t.Error("keys differing by a non-ASCII fold fold apart")
	}
}

// TestDecodeStrictCaseFoldedKeys: keys that differ only by case are refused
// in small objects and in objects past the list of folded keys.
func TestDecodeStrictCaseFoldedKeys(t *testing.T) {
	for _, n := range []int{1, 15, 16, 17, 40} {
		var keys []string
		for i := range n {
			keys = append(keys, fmt.Sprintf("%q: %d", fmt.Sprintf("key%d", i), i))
		}
		for _, dup := range []string{`"KEY0"`, `"ſ"`, fmt.Sprintf(`"kEy%d"`, n-1)} {
			doc := "{" + strings.Join(keys, ",") + `, "s": 1, ` + dup + ": 2}"
			if _, err := decodeStrict([]byte(doc)); err == nil {
				t.Errorf("%d keys, then %s: accepted", n, dup)
			}
		}
		if _, err := decodeStrict([]byte("{" + strings.Join(keys, ",") + "}")); err != nil {
			t.Errorf("%d distinct keys: %v", n, err)
		}
	}
}
