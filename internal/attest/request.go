package attest

import (
	"errors"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/internal/signer"
	"github.com/hallmark-dev/hallmark/internal/subject"
)

// DefaultBundlePath is where attest writes its bundle unless told otherwise.
const DefaultBundlePath = "provenance.sigstore.json"

// DefaultPushDeadline bounds the registry work of attest and push.
const DefaultPushDeadline = 30 * time.Second

// Request is one attestation: what it is about, where its build facts and
// trust come from, how long it may take, and where its bundles go. The
// fields are `hallmark attest`'s flags, and errors name them by those flags
// (the action's inputs map onto them).
type Request struct {
	// SubjectPaths are globs of files, each value a newline- or
	// comma-separated list (--subject-path), hashed with each of
	// DigestAlgorithms (sha256 when empty).
	SubjectPaths     []string
	DigestAlgorithms []string
	// SubjectChecksums are sha256sum/sha512sum files, "-" for Env.Stdin.
	SubjectChecksums []string
	// SubjectNames and SubjectDigests come in pairs.
	SubjectNames   []string
	SubjectDigests []string
	// SubjectImages are images REGISTRY/REPO@sha256:HEX, subjects of the
	// statements like any other (--subject-image).
	SubjectImages []string
	// EachImage are images each attested on its own, one statement and
	// bundle per digest, each value a newline- or comma-separated list
	// (--subject-images); alone, not with the subjects above.
	EachImage []string
	// PerSubject writes one bundle per subject.
	PerSubject bool
	// BundlePath is where the bundle goes, and the base of the names of
	// the others. Required: the front ends default it to
	// DefaultBundlePath.
	BundlePath string

	// SigningConfig and TrustedRoot are paths ($HALLMARK_SIGNING_CONFIG,
	// $HALLMARK_TRUSTED_ROOT, else the public-good instance's through TUF).
	SigningConfig string
	TrustedRoot   string
	// IdentityToken is the OIDC token ($SIGSTORE_ID_TOKEN, else the
	// Actions token-request protocol, when empty).
	IdentityToken string
	// Private signs with a timestamp only: no transparency log.
	Private bool
	// PrivateRepository consents to naming a repository that is not
	// public in Sigstore's public-good logs.
	PrivateRepository bool
	// FactsFile or FactsFromToken give the build facts outside GitHub
	// Actions; inside, the runner's environment does.
	FactsFile      string
	FactsFromToken bool

	// Deadline bounds the signing, Timeout each try of a request to a
	// Sigstore server or a registry, PushDeadline the registry work before
	// signing and again after it. Retries is how many more tries a failed
	// request gets, none when negative. Each is its default when zero
	// (signer.DefaultDeadline, DefaultTimeout and DefaultRetries,
	// DefaultPushDeadline).
	Deadline     time.Duration
	Timeout      time.Duration
	Retries      int
	PushDeadline time.Duration

	// PushToRegistry attaches each bundle to the images it is about:
	// SubjectImages, EachImage and PushImages.
	PushToRegistry bool
	// PushImages are more images the bundles go to: the action's
	// subject-name@subject-digest.
	PushImages []string
	// PushLegacyTag also pushes under cosign's tag sha256-HEX.att.
	PushLegacyTag bool
	// AttestPlatforms also attests and pushes each platform image of a
	// multi-platform index, in the same run.
	AttestPlatforms       bool
	AllowInsecureRegistry bool
	// RegistryToken logs in to a GitHub instance's container registry
	// when the docker config has nothing for it.
	RegistryToken RegistryToken

	// SBOM asks for SBOMs of the subjects, signed beside the provenance.
	SBOM SBOM
}

// RegistryToken is the GitHub token that logs in to the GitHub instance's
// container registry (Registry, ghcr.io on github.com) as User.
type RegistryToken struct {
	Registry, User, Token string
}

// SBOM is what SBOMs to sign beside the provenance: Generate makes one of
// each subject, Source one of a directory about every subject, Path attests
// one the build made; Formats are spdx and/or cyclonedx (spdx when empty).
type SBOM struct {
	Generate bool
	Formats  []string
	Path     string
	Source   string
	// Generator is the hallmark-sbom to run (found beside hallmark or on
	// PATH when empty).
	Generator string
}

func (s SBOM) wanted() bool { return s.Generate || s.Path != "" || s.Source != "" }

// Env is what a run reads and writes besides its request: Stdin for
// --subject-checksums -, Log for progress (discarded when nil), Getenv for
// the runner's environment and the defaults of the paths.
type Env struct {
	Stdin  io.Reader
	Log    io.Writer
	Getenv func(string) string
}

func (e Env) withDefaults() Env {
	if e.Stdin == nil {
		e.Stdin = strings.NewReader("")
	}
	if e.Log == nil {
		e.Log = io.Discard
	}
	if e.Getenv == nil {
		e.Getenv = func(string) string { return "" }
	}
	return e
}

// withTimeDefaults fills in the default of each deadline and timeout left
// zero.
func (r Request) withTimeDefaults() Request {
	if r.Deadline == 0 {
		r.Deadline = signer.DefaultDeadline
	}
	if r.Timeout == 0 {
		r.Timeout = signer.DefaultTimeout
	}
	if r.PushDeadline == 0 {
		r.PushDeadline = DefaultPushDeadline
	}
	return r
}

// checkTimes rejects deadlines and timeouts that cannot work. A timeout
// longer than a deadline is not one of them: no try runs past its deadline.
func (r Request) checkTimes() error {
	if r.Deadline <= 0 || r.Timeout <= 0 || r.PushDeadline <= 0 {
		return errors.New("--deadline, --timeout and --push-deadline must be positive")
	}
	return nil
}

// expandImages moves EachImage into SubjectImages, one image an item, and
// says whether the run is one attestation per image.
func (r Request) expandImages() (Request, bool, error) {
	if len(r.EachImage) == 0 {
		return r, false, nil
	}
	if len(r.SubjectPaths)+len(r.SubjectChecksums)+len(r.SubjectNames)+len(r.SubjectDigests)+len(r.SubjectImages) > 0 {
		return r, false, errors.New("--subject-images attests each image on its own: give --subject-path, --subject-checksums, --subject-name or --subject-image in another attest")
	}
	var refs []string
	for _, v := range r.EachImage {
		for _, item := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == ',' }) {
			if item = strings.TrimSpace(item); item != "" {
				refs = append(refs, item)
			}
		}
	}
	if len(refs) == 0 {
		return r, false, errors.New("--subject-images lists no image: want REGISTRY/REPO@sha256:HEX, one a line or comma-separated")
	}
	r.SubjectImages, r.EachImage = refs, nil
	return r, true, nil
}

// checkPush rejects contradictory push settings before anything is signed.
func (r Request) checkPush() error {
	if !r.PushToRegistry && (r.PushLegacyTag || r.AttestPlatforms) {
		return errors.New("--push-legacy-tag and --attest-platforms need --push-to-registry")
	}
	if r.PushToRegistry && len(r.pushTargets()) == 0 {
		return errors.New("--push-to-registry needs --subject-image or --subject-images: only images can carry attestations in a registry")
	}
	return nil
}

// pushTargets are the images the bundles go to: SubjectImages (EachImage
// expanded) and PushImages, each once.
func (r Request) pushTargets() []string {
	var out []string
	for _, ref := range slices.Concat(r.SubjectImages, r.PushImages) {
		if !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	return out
}

// digestAlgorithms are the digests of each SubjectPaths file.
func (r Request) digestAlgorithms() []string {
	if len(r.DigestAlgorithms) == 0 {
		return []string{subject.SHA256}
	}
	return r.DigestAlgorithms
}
