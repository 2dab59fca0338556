package rekorv1test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"slices"
	"testing"
	"time"

	httptransport "github.com/go-openapi/runtime/client"
	"github.com/go-openapi/strfmt"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	genclient "github.com/sigstore/rekor/pkg/generated/client"
	"github.com/sigstore/rekor/pkg/generated/client/entries"
	"github.com/sigstore/rekor/pkg/generated/client/index"
	"github.com/sigstore/rekor/pkg/generated/models"
	"github.com/sigstore/rekor/pkg/types"
	"github.com/sigstore/sigstore-go/pkg/root"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	// The kinds Upload writes.
	_ "github.com/sigstore/rekor/pkg/types/dsse/v0.0.1"
	_ "github.com/sigstore/rekor/pkg/types/intoto/v0.0.1"
	_ "github.com/sigstore/rekor/pkg/types/intoto/v0.0.2"
)

func (l *Log) api(tb testing.TB) *genclient.Rekor {
	tb.Helper()
	u, err := url.Parse(l.URL)
	if err != nil {
		tb.Fatal(err)
	}
	return genclient.New(httptransport.New(u.Host, genclient.DefaultBasePath, []string{u.Scheme}), strfmt.Default)
}

// Upload logs envelope, signed by the key of certPEM, as an entry of kind
// and version (intoto 0.0.1 or 0.0.2, dsse 0.0.1), as
// slsa-github-generator did, and returns the entry's UUID and the entry as
// the log answered. It waits until the log's index lists the entry under
// the payload's SHA-256: Rekor indexes after it answers.
func (l *Log) Upload(tb testing.TB, kind, version string, envelope, certPEM []byte, payload []byte) (string, models.LogEntryAnon) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pe, err := types.NewProposedEntry(ctx, kind, version, types.ArtifactProperties{ArtifactBytes: envelope, PublicKeyBytes: [][]byte{certPEM}})
	if err != nil {
		tb.Fatalf("proposing a %s v%s entry: %v", kind, version, err)
	}
	resp, err := l.api(tb).Entries.CreateLogEntry(entries.NewCreateLogEntryParamsWithContext(ctx).WithProposedEntry(pe))
	if err != nil {
		tb.Fatalf("logging a %s v%s entry on %s: %v", kind, version, l.URL, err)
	}
	var uuid string
	var entry models.LogEntryAnon
	for k, v := range resp.Payload {
		uuid, entry = k, v
	}
	sum := sha256.Sum256(payload)
	hash := "sha256:" + hex.EncodeToString(sum[:])
	for {
		got, err := l.api(tb).Index.SearchIndex(index.NewSearchIndexParamsWithContext(ctx).WithQuery(&models.SearchIndex{Hash: hash}))
		if err != nil {
			tb.Fatalf("searching the index of %s: %v", l.URL, err)
		}
		if slices.ContainsFunc(got.Payload, func(id string) bool { return len(id) >= 64 && id[len(id)-64:] == uuid[len(uuid)-64:] }) {
			return uuid, entry
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("%s did not index entry %s under %s", l.URL, uuid, hash)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TrustedRoot is base, a trusted root's JSON (the sandbox's, say), with
// this log added as a transparency log: its URL, key and log ID, valid from
// a minute before it started.
func (l *Log) TrustedRoot(tb testing.TB, base []byte) []byte {
	tb.Helper()
	var tr prototrustroot.TrustedRoot
	if err := protojson.Unmarshal(base, &tr); err != nil {
		tb.Fatalf("reading the base trusted root: %v", err)
	}
	tr.Tlogs = append(tr.Tlogs, &prototrustroot.TransparencyLogInstance{
		BaseUrl:       l.URL,
		HashAlgorithm: protocommon.HashAlgorithm_SHA2_256,
		PublicKey: &protocommon.PublicKey{
			RawBytes:   l.PublicKeyDER,
			KeyDetails: protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
			ValidFor:   &protocommon.TimeRange{Start: timestamppb.New(l.Started.Add(-time.Minute))},
		},
		LogId: &protocommon.LogId{KeyId: l.LogID},
	})
	data, err := protojson.Marshal(&tr)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := root.NewTrustedRootFromJSON(data); err != nil {
		tb.Fatalf("the trusted root with %s does not parse: %v", l.URL, err)
	}
	return data
}
