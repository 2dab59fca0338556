// Package tuftest serves a real TUF repository on loopback for tests: root,
// timestamp, snapshot and targets metadata signed with fresh ed25519 keys by
// go-tuf's metadata package, consistent snapshots, and one target,
// trusted_root.json, laid out as Sigstore's repositories lay it out.
package tuftest

import (
	"crypto"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TargetName is the one target the repository serves.
const TargetName = "trusted_root.json"

// Repo is a running TUF repository.
type Repo struct {
	// URL is the repository's base URL.
	URL string

	mu        sync.Mutex
	files     map[string][]byte
	keys      map[string]ed25519.PrivateKey
	root      *metadata.Metadata[metadata.RootType]
	targets   *metadata.Metadata[metadata.TargetsType]
	snapshot  *metadata.Metadata[metadata.SnapshotType]
	timestamp *metadata.Metadata[metadata.TimestampType]
	initial   []byte
	requests  atomic.Int64
	srv       *httptest.Server
}

// New starts a repository serving target as trusted_root.json, its
// timestamp valid for a day, and stops it in t.Cleanup.
func New(tb testing.TB, target []byte) *Repo {
	tb.Helper()
	r := &Repo{files: map[string][]byte{}, keys: map[string]ed25519.PrivateKey{}}
	r.root = metadata.Root(time.Now().AddDate(1, 0, 0))
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		r.newKey(tb, role)
	}
	r.signRoot(tb)
	r.initial = r.files["1.root.json"]
	r.targets = metadata.Targets(time.Now().AddDate(0, 0, 7))
	r.snapshot = metadata.Snapshot(time.Now().AddDate(0, 0, 7))
	r.timestamp = metadata.Timestamp(time.Now().AddDate(0, 0, 1))
	r.targets.Signed.Version, r.snapshot.Signed.Version, r.timestamp.Signed.Version = 0, 0, 0
	r.Publish(tb, target, time.Now().AddDate(0, 0, 1))
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	tb.Cleanup(r.srv.Close)
	r.URL = r.srv.URL
	return r
}

// InitialRoot is 1.root.json: the trust anchor a client starts from.
func (r *Repo) InitialRoot() []byte { return r.initial }

// Requests is how many requests the repository has answered.
func (r *Repo) Requests() int64 { return r.requests.Load() }

// Close stops the server: the repository becomes unreachable.
func (r *Repo) Close() { r.srv.Close() }

// Publish makes target the new trusted_root.json, in new versions of the
// targets, snapshot and timestamp metadata; the timestamp expires at
// timestampExpires (in the past, for a repository serving expired
// metadata).
func (r *Repo) Publish(tb testing.TB, target []byte, timestampExpires time.Time) {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	tf, err := metadata.TargetFile().FromBytes(TargetName, target, "sha256")
	if err != nil {
		tb.Fatal(err)
	}
	r.targets.Signed.Targets = map[string]*metadata.TargetFiles{TargetName: tf}
	r.targets.Signed.Version++
	r.files[fmt.Sprintf("targets/%s.%s", hex.EncodeToString(tf.Hashes["sha256"]), TargetName)] = target
	r.files[fmt.Sprintf("%d.targets.json", r.targets.Signed.Version)] = sign(tb, r.targets, r.keys[metadata.TARGETS])

	r.snapshot.Signed.Meta["targets.json"] = metadata.MetaFile(r.targets.Signed.Version)
	r.snapshot.Signed.Version++
	r.files[fmt.Sprintf("%d.snapshot.json", r.snapshot.Signed.Version)] = sign(tb, r.snapshot, r.keys[metadata.SNAPSHOT])

	r.timestamp.Signed.Meta["snapshot.json"] = metadata.MetaFile(r.snapshot.Signed.Version)
	r.timestamp.Signed.Version++
	r.timestamp.Signed.Expires = timestampExpires.UTC().Truncate(time.Second)
	r.files["timestamp.json"] = sign(tb, r.timestamp, r.keys[metadata.TIMESTAMP])
}

// Tamper serves data in place of the current trusted_root.json, under the
// name the signed metadata gives it: a compromised mirror.
func (r *Repo) Tamper(data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name := range r.files {
		if strings.HasPrefix(name, "targets/") {
			r.files[name] = data
		}
	}
}

// RotateRoot publishes a new root version that replaces the timestamp key,
// and re-signs the timestamp with the new key: a client must walk from its
// anchor to the new root to trust the timestamp.
func (r *Repo) RotateRoot(tb testing.TB) {
	tb.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range r.root.Signed.Roles[metadata.TIMESTAMP].KeyIDs {
		if err := r.root.Signed.RevokeKey(id, metadata.TIMESTAMP); err != nil {
			tb.Fatal(err)
		}
	}
	r.newKey(tb, metadata.TIMESTAMP)
	r.root.Signed.Version++
	r.signRoot(tb)
	r.timestamp.Signed.Version++
	r.files["timestamp.json"] = sign(tb, r.timestamp, r.keys[metadata.TIMESTAMP])
}

func (r *Repo) newKey(tb testing.TB, role string) {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		tb.Fatal(err)
	}
	if err := r.root.Signed.AddKey(key, role); err != nil {
		tb.Fatal(err)
	}
	r.keys[role] = priv
}

// signRoot adds the root key's signature and publishes the version.
func (r *Repo) signRoot(tb testing.TB) {
	tb.Helper()
	r.files[fmt.Sprintf("%d.root.json", r.root.Signed.Version)] = sign(tb, r.root, r.keys[metadata.ROOT])
}

func sign[T metadata.Roles](tb testing.TB, m *metadata.Metadata[T], key ed25519.PrivateKey) []byte {
	tb.Helper()
	signer, err := signature.LoadSigner(key, crypto.Hash(0))
	if err != nil {
		tb.Fatal(err)
	}
	m.ClearSignatures()
	if _, err := m.Sign(signer); err != nil {
		tb.Fatal(err)
	}
	data, err := m.ToBytes(false)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func (r *Repo) serve(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	r.mu.Lock()
	data, ok := r.files[strings.TrimPrefix(req.URL.Path, "/")]
	r.mu.Unlock()
	if !ok {
		http.NotFound(w, req)
		return
	}
	w.Write(data)
}
