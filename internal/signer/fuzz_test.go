package signer

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// The servers' answers and the identity token are untrusted input.

func FuzzCheckToken(f *testing.F) {
	f.Add(jwt(f, githubToken()))
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJhdWQiOlsic2lnc3RvcmUiLDFdfQ.")
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := CheckToken(token, "", now)
		if err != nil {
			if !errors.Is(err, ErrToken) {
				t.Fatalf("err %v is not ErrToken", err)
			}
			if len(token) > 8 && strings.Contains(err.Error(), token) {
				t.Fatal("the token is in the error")
			}
			return
		}
		if _, err := expectFromClaims(claims); err != nil && !errors.Is(err, ErrToken) {
			t.Fatal(err)
		}
	})
}

func FuzzCheckTimestamp(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00}, []byte("sig"))
	f.Fuzz(func(t *testing.T, answer, sig []byte) {
		if checkTimestamp(answer, sig, nil) == nil && len(answer) < 64 {
			t.Fatal("a short answer passed as a timestamp")
		}
	})
}

func FuzzParseFulcioAnswer(f *testing.F) {
	f.Add([]byte(`{"signedCertificateEmbeddedSct":{"chain":{"certificates":["-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n"]}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if c, err := parseFulcioAnswer(body); err == nil && c == nil {
			t.Fatal("no certificate and no error")
		}
	})
}

func FuzzRekorAnswer(f *testing.F) {
	f.Add(201, []byte(`{"logIndex":"3","inclusionProof":{"logIndex":"3","treeSize":"4"}}`), "")
	f.Add(409, []byte(`{}`), "12")
	f.Fuzz(func(t *testing.T, status int, body []byte, index string) {
		h := http.Header{}
		h.Set("X-Log-Index", index)
		tle, _, err := rekorAnswer(&reply{status: status, header: h, body: body})
		if (err == nil) == (tle == nil) {
			t.Fatalf("entry %v with error %v", tle, err)
		}
	})
}

func FuzzRetryAfter(f *testing.F) {
	f.Add("120")
	f.Add("Wed, 21 Oct 2015 07:28:00 GMT")
	f.Fuzz(func(t *testing.T, v string) {
		if d, ok := retryAfter(http.Header{"Retry-After": {v}}, now); ok && (d < 0 || d > maxRetryAfter) {
			t.Fatalf("Retry-After %q read as %s", v, d)
		}
	})
}
