package githubapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/githubapi"
	"github.com/hallmark-dev/hallmark/internal/githubapi/githubtest"
)

const (
	writeToken = "ghs_write_5e1f"
	readToken  = "ghs_read_a71c"
)

// bundleFor is a Sigstore-bundle-shaped JSON document whose statement has
// one subject with digest sha256:hex; n tells bundles apart.
func bundleFor(hex string, n int) []byte {
	st := fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"app","digest":{"sha256":%q}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{"n":%d}}`, hex, n)
	return []byte(fmt.Sprintf(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"certificate":{"rawBytes":"MA=="}},"dsseEnvelope":{"payload":%q,"payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"MA=="}]}}`,
		base64.StdEncoding.EncodeToString([]byte(st))))
}

func newFake(t *testing.T, opts ...githubtest.Option) *githubtest.Server {
	t.Helper()
	s := githubtest.Start(t, opts...)
	s.AddRepository("acme/app", 700000001, false)
	s.AddRepository("acme/secret", 700000002, true)
	s.AddToken(writeToken, true)
	s.AddToken(readToken, false)
	return s
}

func client(t *testing.T, url, token string) *githubapi.Client {
	t.Helper()
	c, err := githubapi.New(url, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreateAndListAcrossPages(t *testing.T) {
	s := newFake(t, githubtest.WithPathPrefix("/api/v3"))
	ctx := context.Background()
	hex := strings.Repeat("ab", 32)
	w := client(t, s.URL, writeToken)
	var ids []int64
	for i := range 230 {
		c, err := w.CreateAttestation(ctx, "acme/app", bundleFor(hex, i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	if _, err := w.CreateAttestation(ctx, "acme/app", bundleFor(strings.Repeat("cd", 32), 0)); err != nil {
		t.Fatal(err)
	}
	if got := ids[1] - ids[0]; got != 1 {
		t.Errorf("ids %d, %d: want one apart", ids[0], ids[1])
	}
	if want := "https://octo.ghe.com/acme/app/attestations/" + fmt.Sprint(ids[0]); (githubapi.Created{ID: ids[0]}).URL("https://octo.ghe.com/", "acme/app") != want {
		t.Errorf("URL, want %s", want)
	}
	list, err := client(t, s.URL, "").ListAttestations(ctx, "acme/app", "sha256:"+hex)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 230 {
		t.Fatalf("listed %d attestations, want 230 across three pages", len(list))
	}
	for i, l := range list {
		var b struct {
			DSSE struct {
				Payload []byte `json:"payload"`
			} `json:"dsseEnvelope"`
		}
		if err := json.Unmarshal(l.Bundle, &b); err != nil || !strings.Contains(string(b.DSSE.Payload), fmt.Sprintf(`"n":%d}`, i)) || l.RepositoryID != 700000001 {
			t.Fatalf("attestation %d: %s (repository %d)", i, l.Bundle, l.RepositoryID)
		}
	}
	if got := s.Requests(http.MethodGet, http.StatusOK); got != 3 {
		t.Errorf("%d pages fetched, want 3", got)
	}
	c := client(t, s.URL, "")
	c.MaxPages = 2
	if _, err := c.ListAttestations(ctx, "acme/app", "sha256:"+hex); err == nil || !strings.Contains(err.Error(), "more than 2 pages") {
		t.Errorf("err = %v, want the page bound", err)
	}
}

func TestAPIErrors(t *testing.T) {
	s := newFake(t)
	ctx := context.Background()
	hex := strings.Repeat("ef", 32)
	tests := []struct {
		name    string
		call    func() error
		want    error
		status  int
		message string
	}{
		{name: "create without write access", call: func() error {
			_, err := client(t, s.URL, readToken).CreateAttestation(ctx, "acme/app", bundleFor(hex, 0))
			return err
		}, want: githubapi.ErrForbidden, status: 403, message: "Resource not accessible by integration"},
		{name: "create without a token", call: func() error {
			_, err := client(t, s.URL, "").CreateAttestation(ctx, "acme/app", bundleFor(hex, 0))
			return err
		}, want: githubapi.ErrForbidden, status: 401, message: "Requires authentication"},
		{name: "a bad token", call: func() error {
			_, err := client(t, s.URL, "ghs_wrong").CreateAttestation(ctx, "acme/app", bundleFor(hex, 0))
			return err
		}, want: githubapi.ErrForbidden, status: 401, message: "Bad credentials"},
		{name: "create in a repository that does not exist", call: func() error {
			_, err := client(t, s.URL, writeToken).CreateAttestation(ctx, "acme/none", bundleFor(hex, 0))
			return err
		}, want: githubapi.ErrNotFound, status: 404, message: "Not Found"},
		{name: "create what is not a bundle", call: func() error {
			_, err := client(t, s.URL, writeToken).CreateAttestation(ctx, "acme/app", []byte(`{"mediaType":"text/plain"}`))
			return err
		}, want: githubapi.ErrInvalid, status: 422, message: "Validation Failed"},
		{name: "list with no attestation", call: func() error {
			_, err := client(t, s.URL, "").ListAttestations(ctx, "acme/app", "sha256:"+hex)
			return err
		}, want: githubapi.ErrNotFound, status: 404},
		{name: "list a private repository without a token", call: func() error {
			_, err := client(t, s.URL, "").ListAttestations(ctx, "acme/secret", "sha256:"+hex)
			return err
		}, want: githubapi.ErrNotFound, status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var ae *githubapi.APIError
			if !errors.Is(err, tt.want) || !errors.As(err, &ae) || ae.Status != tt.status || !strings.Contains(ae.Message, tt.message) {
				t.Fatalf("err = %v, want %v with status %d and message %q", err, tt.want, tt.status, tt.message)
			}
			for _, tok := range []string{writeToken, readToken} {
				if strings.Contains(err.Error(), tok) {
					t.Fatal("a token in the error")
				}
			}
		})
	}
	if n := len(s.Attestations("acme/app")); n != 0 {
		t.Errorf("the store holds %d attestations after only failures", n)
	}
}

// TestListRefusesForeignNextPage: a Link header pointing at another host
// would carry the token there; the client stops instead.
func TestListRefusesForeignNextPage(t *testing.T) {
	var sawToken bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawToken = sawToken || r.Header.Get("Authorization") != ""
		w.Write([]byte(`{"attestations":[]}`))
	}))
	defer other.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", `<`+other.URL+`/repos/acme/app/attestations/sha256:aa?after=x>; rel="next"`)
		w.Write([]byte(`{"attestations":[{"bundle":{"mediaType":"x"},"repository_id":1}]}`))
	}))
	defer api.Close()
	_, err := client(t, api.URL, readToken).ListAttestations(context.Background(), "acme/app", "sha256:aa")
	if err == nil || !strings.Contains(err.Error(), "not on the API's host") {
		t.Fatalf("err = %v, want the foreign next page refused", err)
	}
	if sawToken {
		t.Error("the token went to another host")
	}
}

func TestInstanceFor(t *testing.T) {
	tests := []struct {
		server, api string
		want        githubapi.Instance
		wantErr     bool
	}{
		{server: "", want: githubapi.Instance{ServerURL: "https://github.com", APIURL: "https://api.github.com", Issuer: "https://token.actions.githubusercontent.com", Registry: "ghcr.io"}},
		{server: "https://github.com/", api: "https://api.github.com", want: githubapi.Instance{ServerURL: "https://github.com", APIURL: "https://api.github.com", Issuer: "https://token.actions.githubusercontent.com", Registry: "ghcr.io"}},
		{server: "https://octo.ghe.com", want: githubapi.Instance{ServerURL: "https://octo.ghe.com", APIURL: "https://api.octo.ghe.com", Issuer: "https://token.actions.octo.ghe.com", Registry: "containers.octo.ghe.com"}},
		{server: "https://git.acme.example", want: githubapi.Instance{ServerURL: "https://git.acme.example", APIURL: "https://git.acme.example/api/v3", Issuer: "https://git.acme.example/_services/token", Registry: "containers.git.acme.example"}},
		{server: "https://git.acme.example", api: "http://127.0.0.1:8080/api/v3/", want: githubapi.Instance{ServerURL: "https://git.acme.example", APIURL: "http://127.0.0.1:8080/api/v3", Issuer: "https://git.acme.example/_services/token", Registry: "containers.git.acme.example"}},
		{server: "https://github.com/acme", wantErr: true},
		{server: "ftp://github.com", wantErr: true},
		{server: "https://github.com", api: "api.github.com", wantErr: true},
	}
	for _, tt := range tests {
		got, err := githubapi.InstanceFor(tt.server, tt.api)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("InstanceFor(%q, %q) = %+v, %v; want %+v", tt.server, tt.api, got, err, tt.want)
		}
		if err == nil {
			if s, ok := githubapi.ServerForIssuer(got.Issuer); !ok || s != got.ServerURL {
				t.Errorf("ServerForIssuer(%q) = %q, %v; want %q", got.Issuer, s, ok, got.ServerURL)
			}
		}
	}
}

func TestServerForIssuer(t *testing.T) {
	tests := []struct {
		iss, want string
	}{
		{iss: "https://token.actions.githubusercontent.com", want: "https://github.com"},
		{iss: "https://token.actions.githubusercontent.com/acme-corp", want: "https://github.com"},
		{iss: "https://token.actions.octo.ghe.com", want: "https://octo.ghe.com"},
		{iss: "https://token.actions.octo.ghe.com/octo", want: "https://octo.ghe.com"},
		{iss: "https://git.acme.example/_services/token", want: "https://git.acme.example"},
		{iss: "https://accounts.google.com"},
		{iss: "http://git.acme.example/_services/token"},
		{iss: "https://token.actions.githubusercontent.com/a/b"},
		{iss: "https://token.actions.githubusercontent.com.evil.example"},
		{iss: "https://token.actions.ghe.com"},
		{iss: "https://token.actions.o_o.ghe.com"},
		{iss: "https://token.actions.octo.ghe.com/x!y"},
		{iss: "https://user@git.acme.example/_services/token"},
		{iss: "https://git.acme.example:8443/_services/token"},
	}
	for _, tt := range tests {
		got, ok := githubapi.ServerForIssuer(tt.iss)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("ServerForIssuer(%q) = %q, %v; want %q", tt.iss, got, ok, tt.want)
		}
	}
}

func FuzzListAnswer(f *testing.F) {
	f.Add(`{"attestations":[{"bundle":{"a":1},"repository_id":1}]}`, `<http://HOST/x?after=1>; rel="next"`)
	f.Add(`{"attestations":null}`, `<>; rel=next, <http://evil.example/>; rel="prev next"`)
	f.Fuzz(func(t *testing.T, body, link string) {
		calls := 0
		var srv *httptest.Server
		srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls++
			if calls == 1 {
				w.Header().Set("Link", strings.ReplaceAll(link, "HOST", strings.TrimPrefix(srv.URL, "http://")))
			}
			w.Write([]byte(body))
		}))
		defer srv.Close()
		c, err := githubapi.New(srv.URL, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		c.MaxPages = 3
		list, err := c.ListAttestations(context.Background(), "acme/app", "sha256:aa")
		if err == nil && calls > 3 {
			t.Fatalf("%d pages fetched past the bound", calls)
		}
		for _, l := range list {
			if len(l.Bundle) > 0 && !json.Valid(l.Bundle) {
				t.Fatalf("a listed bundle is not JSON: %q", l.Bundle)
			}
		}
	})
}

// FuzzServerForIssuer: an issuer (a token's iss claim) never yields a
// server with a path, credentials or query, and the server it yields is one
// InstanceFor accepts.
func FuzzServerForIssuer(f *testing.F) {
	for _, s := range []string{"https://token.actions.githubusercontent.com", "https://token.actions.octo.ghe.com/octo",
		"https://git.acme.example/_services/token", "https://a@b/_services/token", "https://token.actions.x.ghe.com.evil/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, iss string) {
		server, ok := githubapi.ServerForIssuer(iss)
		if !ok {
			return
		}
		if _, err := githubapi.InstanceFor(server, ""); err != nil {
			t.Fatalf("ServerForIssuer(%q) = %q, which InstanceFor refuses: %v", iss, server, err)
		}
		if strings.Count(server, "/") != 2 || strings.ContainsAny(server, "@?#") {
			t.Fatalf("ServerForIssuer(%q) = %q: not a bare server URL", iss, server)
		}
	})
}
