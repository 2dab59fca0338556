// Package githubtest is a fake of GitHub's REST API for tests, which cannot
// reach GitHub: the repository attestation store, speaking the request and
// answer shapes of GitHub's published OpenAPI description
// (repos/create-attestation, repos/list-attestations): bearer tokens with
// or without write access, 401/403/404/422 answers with GitHub's message
// bodies, and cursor pagination through the Link header.
package githubtest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Stored is an attestation the fake holds.
type Stored struct {
	ID         int64
	Repository string
	Bundle     json.RawMessage
	// Digests are the subject digests of the bundle's statement, ALG:HEX.
	Digests []string
}

// Server is a running fake.
type Server struct {
	// URL is the API's root, such as http://127.0.0.1:PORT; with
	// WithPathPrefix the prefix is part of it.
	URL string

	mu     sync.Mutex
	prefix string
	repos  map[string]*repository // by lower-case OWNER/REPO
	tokens map[string]bool        // token -> may write
	store  []Stored
	nextID int64
	counts map[string]int // "METHOD status" -> requests
}

type repository struct {
	name    string
	id      int64
	private bool
}

// Option configures Start.
type Option func(*Server)

// WithPathPrefix serves the API under prefix, as GitHub Enterprise Server
// serves it under /api/v3.
func WithPathPrefix(prefix string) Option {
	return func(s *Server) { s.prefix = strings.TrimSuffix(prefix, "/") }
}

// Start starts a fake on loopback, stopped in tb.Cleanup.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	s := &Server{repos: map[string]*repository{}, tokens: map[string]bool{}, nextID: 1000, counts: map[string]int{}}
	for _, o := range opts {
		o(s)
	}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL + s.prefix
	return s
}

// AddRepository adds the repository OWNER/REPO with its numeric id.
func (s *Server) AddRepository(name string, id int64, private bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[strings.ToLower(name)] = &repository{name: name, id: id, private: private}
}

// AddToken accepts token; write lets it create attestations, as a job's
// GITHUB_TOKEN with `attestations: write` may.
func (s *Server) AddToken(token string, write bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = write
}

// Attestations returns what the store holds for repository, oldest first.
func (s *Server) Attestations(repository string) []Stored {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Stored
	for _, a := range s.store {
		if strings.EqualFold(a.Repository, repository) {
			out = append(out, a)
		}
	}
	return out
}

// Requests counts the requests answered with status for method.
func (s *Server) Requests(method string, status int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[method+" "+strconv.Itoa(status)]
}

// docs is the documentation_url GitHub puts in its error bodies.
const docs = "https://docs.github.com/rest/repos/repos"

func (s *Server) answer(w http.ResponseWriter, r *http.Request, status int, body any) {
	s.counts[r.Method+" "+strconv.Itoa(status)]++
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, message string) {
	s.answer(w, r, status, map[string]string{"message": message, "documentation_url": docs, "status": strconv.Itoa(status)})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path, ok := strings.CutPrefix(r.URL.EscapedPath(), s.prefix+"/repos/")
	if !ok {
		s.fail(w, r, http.StatusNotFound, "Not Found")
		return
	}
	parts := strings.Split(path, "/")
	if len(parts) < 3 || parts[2] != "attestations" || len(parts) > 4 {
		s.fail(w, r, http.StatusNotFound, "Not Found")
		return
	}
	write, authed := false, false
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			tok, ok = strings.CutPrefix(h, "token ")
		}
		write, authed = s.tokens[tok]
		if !ok || !authed {
			s.fail(w, r, http.StatusUnauthorized, "Bad credentials")
			return
		}
	}
	repo := s.repos[strings.ToLower(parts[0]+"/"+parts[1])]
	if repo == nil || (repo.private && !authed) {
		s.fail(w, r, http.StatusNotFound, "Not Found")
		return
	}
	switch {
	case len(parts) == 3 && r.Method == http.MethodPost:
		s.create(w, r, repo, authed, write)
	case len(parts) == 4 && r.Method == http.MethodGet:
		s.list(w, r, repo, parts[3])
	default:
		s.fail(w, r, http.StatusNotFound, "Not Found")
	}
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, repo *repository, authed, write bool) {
	switch {
	case !authed:
		s.fail(w, r, http.StatusUnauthorized, "Requires authentication")
		return
	case !write:
		s.fail(w, r, http.StatusForbidden, "Resource not accessible by integration")
		return
	}
	var req struct {
		Bundle json.RawMessage `json:"bundle"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20))
	if err := dec.Decode(&req); err != nil || len(req.Bundle) == 0 {
		s.answer(w, r, http.StatusUnprocessableEntity, map[string]any{"message": "Invalid request.\n\n\"bundle\" wasn't supplied.", "documentation_url": docs, "status": "422"})
		return
	}
	digests, err := subjectDigests(req.Bundle)
	if err != nil {
		s.answer(w, r, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed", "errors": []map[string]string{{"resource": "Attestation", "field": "bundle", "code": "invalid", "message": err.Error()}}, "documentation_url": docs, "status": "422"})
		return
	}
	s.nextID++
	s.store = append(s.store, Stored{ID: s.nextID, Repository: repo.name, Bundle: req.Bundle, Digests: digests})
	s.answer(w, r, http.StatusCreated, map[string]int64{"id": s.nextID})
}

// subjectDigests reads the subject digests of a Sigstore bundle's DSSE
// statement, as GitHub indexes attestations by them.
func subjectDigests(bundle []byte) ([]string, error) {
	var b struct {
		MediaType string `json:"mediaType"`
		DSSE      *struct {
			Payload     []byte `json:"payload"`
			PayloadType string `json:"payloadType"`
		} `json:"dsseEnvelope"`
		VerificationMaterial json.RawMessage `json:"verificationMaterial"`
	}
	if err := json.Unmarshal(bundle, &b); err != nil {
		return nil, fmt.Errorf("not a Sigstore bundle: %v", err)
	}
	if !strings.HasPrefix(b.MediaType, "application/vnd.dev.sigstore.bundle") || len(b.VerificationMaterial) == 0 || b.DSSE == nil {
		return nil, fmt.Errorf("not a Sigstore bundle with a DSSE envelope")
	}
	var st struct {
		Subject []struct {
			Digest map[string]string `json:"digest"`
		} `json:"subject"`
	}
	if err := json.Unmarshal(b.DSSE.Payload, &st); err != nil || len(st.Subject) == 0 {
		return nil, fmt.Errorf("the envelope holds no in-toto statement with subjects")
	}
	var out []string
	for _, sub := range st.Subject {
		for alg, hex := range sub.Digest {
			out = append(out, alg+":"+hex)
		}
	}
	return out, nil
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, repo *repository, digest string) {
	q := r.URL.Query()
	perPage := 30
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			s.answer(w, r, http.StatusUnprocessableEntity, map[string]any{"message": "Invalid request.\n\nInvalid property /per_page", "documentation_url": docs, "status": "422"})
			return
		}
		perPage = min(n, 100)
	}
	start := 0
	if c := q.Get("after"); c != "" {
		raw, err := base64.RawURLEncoding.DecodeString(c)
		n, aerr := strconv.Atoi(strings.TrimPrefix(string(raw), "cursor:"))
		if err != nil || aerr != nil || n < 0 {
			s.answer(w, r, http.StatusUnprocessableEntity, map[string]any{"message": "Invalid cursor", "documentation_url": docs, "status": "422"})
			return
		}
		start = n
	}
	var match []Stored
	for _, a := range s.store {
		if a.Repository != repo.name {
			continue
		}
		for _, d := range a.Digests {
			if d == digest {
				match = append(match, a)
				break
			}
		}
	}
	if len(match) == 0 {
		s.fail(w, r, http.StatusNotFound, "Not Found")
		return
	}
	end := min(start+perPage, len(match))
	page := []map[string]any{}
	for _, a := range match[min(start, len(match)):end] {
		page = append(page, map[string]any{"bundle": a.Bundle, "repository_id": repo.id, "bundle_url": "https://objects.example/attestations/" + strconv.FormatInt(a.ID, 10)})
	}
	if end < len(match) {
		next := *r.URL
		nq := next.Query()
		nq.Set("per_page", strconv.Itoa(perPage))
		nq.Set("after", base64.RawURLEncoding.EncodeToString([]byte("cursor:"+strconv.Itoa(end))))
		nq.Del("before")
		next.RawQuery = nq.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<http://%s%s>; rel="next"`, r.Host, next.RequestURI()))
	}
	s.answer(w, r, http.StatusOK, map[string]any{"attestations": page})
}
