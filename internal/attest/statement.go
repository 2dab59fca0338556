package attest

import (
	"context"
	"net/http"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/hallmark-dev/hallmark/internal/signer"
)

// Statement is one in-toto statement to sign on its own, outside the flow
// of Run: the verification summary of `verify-artifact --vsa-out`.
type Statement struct {
	// Payload is the statement, encoded.
	Payload []byte
	// SigningConfig, TrustedRoot and IdentityToken are found as Run finds
	// them (LoadTrust; signer.IdentityToken) when empty.
	SigningConfig string
	TrustedRoot   string
	IdentityToken string
}

// SignStatement signs st keylessly into a Sigstore bundle, checked against
// the trusted root, and returns the bundle's bytes and what signed it.
// getenv is the environment the defaults come from.
func SignStatement(ctx context.Context, st Statement, getenv func(string) string) ([]byte, *signer.Result, error) {
	sc, tr, err := LoadTrust(st.SigningConfig, st.TrustedRoot, getenv)
	if err != nil {
		return nil, nil, err
	}
	token, _, err := signer.IdentityToken(ctx, st.IdentityToken, getenv, &http.Client{Timeout: 30 * time.Second})
	if err != nil {
		return nil, nil, err
	}
	res, err := signer.Sign(ctx, st.Payload, signer.PayloadTypeInToto, signer.Options{SigningConfig: sc, TrustedRoot: tr, IdentityToken: token})
	if err != nil {
		return nil, nil, err
	}
	data, err := protojson.Marshal(res.Bundle)
	if err != nil {
		return nil, nil, err
	}
	return data, res, nil
}
