package sandbox

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// SPIFFEIssuer is a SPIRE deployment whose JWT-SVIDs the sandbox's Fulcio
// exchanges for certificates (Fulcio's `spiffe` issuer type): the SPIFFE ID
// of the token's subject becomes the certificate's URI SAN.
//
// Fulcio verifies each token through OIDC discovery at IssuerURL, so the
// SPIRE server's jwt_issuer must be IssuerURL and something must serve
// IssuerURL/.well-known/openid-configuration and the keys it names (SPIRE's
// oidc-discovery-provider). It need not be up when the sandbox starts:
// Fulcio looks the issuer up again on the first token it sees.
type SPIFFEIssuer struct {
	// TrustDomain is the only trust domain whose SPIFFE IDs Fulcio
	// accepts from this issuer ("example.org").
	TrustDomain string `json:"trustDomain"`
	// IssuerURL is the iss claim of the JWT-SVIDs, exactly.
	IssuerURL string `json:"issuerURL"`
}

// SPIFFEAudience is the audience Fulcio requires of a JWT-SVID: a workload
// asks its SPIRE agent for a JWT-SVID with this audience.
const SPIFFEAudience = "sigstore"

func (i SPIFFEIssuer) validate() error {
	if _, err := spiffeid.TrustDomainFromString(i.TrustDomain); err != nil || strings.Contains(i.TrustDomain, "://") {
		return fmt.Errorf("spiffe issuer %q: trust domain %q: want a bare name such as example.org", i.IssuerURL, i.TrustDomain)
	}
	u, err := url.Parse(i.IssuerURL)
	if err != nil {
		return fmt.Errorf("spiffe issuer %q: %w", i.IssuerURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("spiffe issuer %q: want an http or https URL with a host, no query or fragment", i.IssuerURL)
	}
	// The URL is written, quoted, into Fulcio's YAML config.
	if strings.ContainsFunc(i.IssuerURL, func(r rune) bool { return r <= ' ' || r > '~' || r == '"' || r == '\\' }) {
		return fmt.Errorf("spiffe issuer %q: want printable ASCII without spaces, quotes or backslashes", i.IssuerURL)
	}
	return nil
}

// validateSPIFFEIssuers checks each issuer, and that no URL is listed twice.
func validateSPIFFEIssuers(issuers []SPIFFEIssuer) error {
	seen := map[string]bool{}
	var errs []error
	for _, i := range issuers {
		if err := i.validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[i.IssuerURL] {
			errs = append(errs, fmt.Errorf("spiffe issuer %q: listed twice", i.IssuerURL))
		}
		seen[i.IssuerURL] = true
	}
	return errors.Join(errs...)
}
