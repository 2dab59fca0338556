package sandbox

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	prototrustroot "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// operator names the sandbox in signing configs and trusted roots.
const operator = "hallmark-sandbox"

// trustInputs is what the running servers told us about their keys.
type trustInputs struct {
	fulcioURL, rekorURL, tsaURL, issuerURL string
	fulcioChain                            []*x509.Certificate // intermediates..root
	tsaChain                               []*x509.Certificate // leaf..root
	rekorPubDER, rekorLogID                []byte
	rekorStart                             time.Time
}

func chainProto(certs []*x509.Certificate) *protocommon.X509CertificateChain {
	c := &protocommon.X509CertificateChain{}
	for _, cert := range certs {
		c.Certificates = append(c.Certificates, &protocommon.X509Certificate{RawBytes: cert.Raw})
	}
	return c
}

func subject(c *x509.Certificate) *protocommon.DistinguishedName {
	dn := &protocommon.DistinguishedName{CommonName: c.Subject.CommonName}
	if len(c.Subject.Organization) > 0 {
		dn.Organization = c.Subject.Organization[0]
	}
	return dn
}

// trustedRootJSON describes exactly the sandbox's servers as a Sigstore
// trusted root, on one line: gh's --custom-trusted-root reads a file of
// trusted roots one JSON document per line, and every other reader takes
// any JSON. With withLog false the Rekor log is left out (see
// TrustedRootTSAOnlyFile). It is parsed back with sigstore-go before it is
// returned, so a file the library would refuse is never written.
func trustedRootJSON(in trustInputs, withLog bool) ([]byte, error) {
	caRoot := in.fulcioChain[len(in.fulcioChain)-1]
	tsaRoot := in.tsaChain[len(in.tsaChain)-1]
	tr := &prototrustroot.TrustedRoot{
		MediaType: root.TrustedRootMediaType01,
		CertificateAuthorities: []*prototrustroot.CertificateAuthority{{
			Subject:   subject(caRoot),
			Uri:       in.fulcioURL,
			CertChain: chainProto(in.fulcioChain),
			ValidFor:  &protocommon.TimeRange{Start: timestamppb.New(caRoot.NotBefore)},
		}},
		Tlogs: []*prototrustroot.TransparencyLogInstance{{
			BaseUrl:       in.rekorURL,
			HashAlgorithm: protocommon.HashAlgorithm_SHA2_256,
			PublicKey: &protocommon.PublicKey{
				RawBytes:   in.rekorPubDER,
				KeyDetails: protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
				ValidFor:   &protocommon.TimeRange{Start: timestamppb.New(in.rekorStart)},
			},
			// A Rekor v2 log's checkpoint key ID is its log ID, the
			// SHA-256 of its public key, as in the public-good trusted
			// root: readers take the checkpoint's 4-byte key hint from
			// its first bytes, and sigstore-js matches it against the
			// log ID the bundle's entry names.
			LogId:           &protocommon.LogId{KeyId: in.rekorLogID},
			CheckpointKeyId: &protocommon.LogId{KeyId: in.rekorLogID},
		}},
		TimestampAuthorities: []*prototrustroot.CertificateAuthority{{
			Subject:   subject(tsaRoot),
			Uri:       in.tsaURL,
			CertChain: chainProto(in.tsaChain),
			ValidFor:  &protocommon.TimeRange{Start: timestamppb.New(tsaRoot.NotBefore)},
		}},
	}
	if !withLog {
		tr.Tlogs = nil
	}
	data, err := protojson.Marshal(tr)
	if err != nil {
		return nil, fmt.Errorf("encoding trusted root: %w", err)
	}
	// protojson may put spaces in its output but never a newline.
	data = append(data, '\n')
	if _, err := root.NewTrustedRootFromJSON(data); err != nil {
		return nil, fmt.Errorf("trusted root does not parse: %w", err)
	}
	return data, nil
}

// signingConfigJSON lists the sandbox's services as a Sigstore signing
// config v0.2: Fulcio, the issuer, Rekor (API v2) and the TSA. With withLog
// false Rekor is left out (see SigningConfigTSAOnlyFile).
func signingConfigJSON(in trustInputs, start time.Time, withLog bool) ([]byte, error) {
	svc := func(url string, major uint32) []root.Service {
		return []root.Service{{URL: url, MajorAPIVersion: major, ValidityPeriodStart: start, Operator: operator}}
	}
	rekor := svc(in.rekorURL, 2)
	if !withLog {
		rekor = nil
	}
	sc, err := root.NewSigningConfig(root.SigningConfigMediaType02,
		svc(in.fulcioURL, 1),
		svc(in.issuerURL, 1),
		rekor,
		root.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY},
		svc(in.tsaURL+"/api/v1/timestamp", 1),
		root.ServiceConfiguration{Selector: prototrustroot.ServiceSelector_ANY},
	)
	if err != nil {
		return nil, err
	}
	data, err := sc.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding signing config: %w", err)
	}
	if _, err := root.NewSigningConfigFromJSON(data); err != nil {
		return nil, fmt.Errorf("signing config does not parse: %w", err)
	}
	return data, nil
}

// pemChain encodes certificates as PEM, one block each.
func pemChain(certs []*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
