package admission

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of ImagePolicy.
var GroupVersion = schema.GroupVersion{Group: "admission.hallmark.dev", Version: "v1alpha1"}

// Mode says what a failing image does under a policy.
type Mode string

// Modes of an ImagePolicy.
const (
	// ModeEnforce denies a request with an image that fails.
	ModeEnforce Mode = "enforce"
	// ModeWarn admits it with a warning the client shows.
	ModeWarn Mode = "warn"
	// ModeAudit admits it silently; the failure goes to the audit log (an
	// audit annotation), the controller's log and its metrics.
	ModeAudit Mode = "audit"
)

// ImagePolicy says which images, in which namespaces, must carry
// provenance that passes which Hallmark policy. It is cluster-scoped: the
// platform owns it, not the tenants whose pods it governs.
type ImagePolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ImagePolicySpec `json:"spec"`
}

// ImagePolicySpec is an ImagePolicy's content.
type ImagePolicySpec struct {
	// Images are globs over an image's repository, normalized as the
	// registry names it (index.docker.io/library/nginx for nginx): "*"
	// matches within one path segment, "**" across segments, "?" one
	// character, "{a,b}" alternatives. An image matching one is governed by
	// the policy.
	Images []string `json:"images"`
	// NamespaceSelector selects the namespaces whose workloads the policy
	// governs, by their labels. Empty: every namespace the webhook sees.
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// Mode is enforce (the default), warn or audit.
	Mode Mode `json:"mode,omitempty"`
	// Expect are verify-image's flags. Without Policy they apply to the
	// built-in policy, where naming a builder trusts it; with Policy they
	// only narrow it.
	Expect Expectations `json:"expect,omitempty"`
	// Policy is a Hallmark policy file (YAML or JSON), as verify-image
	// --policy reads it: it replaces the built-in policy.
	Policy string `json:"policy,omitempty"`
	// VerificationSummaries name the verifiers whose signed SLSA
	// verification summaries (VSAs) pass an image whose provenance does
	// not.
	VerificationSummaries []SummaryPolicy `json:"verificationSummaries,omitempty"`
}

// Expectations are verify-image's flags (see verifier.Flags).
type Expectations struct {
	SourceURI             string            `json:"sourceURI,omitempty"`
	SourceBranch          string            `json:"sourceBranch,omitempty"`
	SourceTag             string            `json:"sourceTag,omitempty"`
	SourceVersionedTag    string            `json:"sourceVersionedTag,omitempty"`
	BuilderID             string            `json:"builderID,omitempty"`
	WorkflowInputs        map[string]string `json:"workflowInputs,omitempty"`
	CertIdentity          string            `json:"certIdentity,omitempty"`
	CertIdentityRegex     string            `json:"certIdentityRegex,omitempty"`
	CertOIDCIssuer        string            `json:"certOIDCIssuer,omitempty"`
	SignerWorkflow        string            `json:"signerWorkflow,omitempty"`
	SignerRepo            string            `json:"signerRepo,omitempty"`
	Owner                 string            `json:"owner,omitempty"`
	DenySelfHostedRunners bool              `json:"denySelfHostedRunners,omitempty"`
	SPIFFEIDs             []string          `json:"spiffeIDs,omitempty"`
	MinLevel              int               `json:"minLevel,omitempty"`
}

// SummaryPolicy names a verifier whose summaries count (see
// verifier.VSAPolicy), and how old a summary may be.
type SummaryPolicy struct {
	// Issuer and Identity are the OIDC issuer and certificate SAN (a
	// pattern: exact, glob: or regexp:) of the verifier that signs.
	Issuer   string `json:"issuer"`
	Identity string `json:"identity"`
	// MinLevel is the SLSA build level the summary must vouch for.
	MinLevel int `json:"minLevel,omitempty"`
	// VerifierID, when set, must be the summary's verifier.id.
	VerifierID string `json:"verifierID,omitempty"`
	// PolicyDigest, when set, is the sha256 (hex) of the policy the
	// summary must have been made under.
	PolicyDigest string `json:"policyDigest,omitempty"`
	// MaxAge, when set, is how long after its timeVerified a summary
	// counts.
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
}

// ImagePolicyList is a list of ImagePolicy.
type ImagePolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ImagePolicy `json:"items"`
}

// AddToScheme registers ImagePolicy and ImagePolicyList.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &ImagePolicy{}, &ImagePolicyList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// DeepCopyInto copies p into out.
func (p *ImagePolicy) DeepCopyInto(out *ImagePolicy) {
	*out = *p
	out.TypeMeta = p.TypeMeta
	p.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	p.Spec.DeepCopyInto(&out.Spec)
}

// DeepCopy copies p.
func (p *ImagePolicy) DeepCopy() *ImagePolicy {
	if p == nil {
		return nil
	}
	out := new(ImagePolicy)
	p.DeepCopyInto(out)
	return out
}

// DeepCopyObject copies p as a runtime.Object.
func (p *ImagePolicy) DeepCopyObject() runtime.Object { return p.DeepCopy() }

// DeepCopyInto copies s into out.
func (s *ImagePolicySpec) DeepCopyInto(out *ImagePolicySpec) {
	*out = *s
	out.Images = append([]string(nil), s.Images...)
	if s.NamespaceSelector != nil {
		out.NamespaceSelector = s.NamespaceSelector.DeepCopy()
	}
	if s.Expect.WorkflowInputs != nil {
		out.Expect.WorkflowInputs = make(map[string]string, len(s.Expect.WorkflowInputs))
		for k, v := range s.Expect.WorkflowInputs {
			out.Expect.WorkflowInputs[k] = v
		}
	}
	out.Expect.SPIFFEIDs = append([]string(nil), s.Expect.SPIFFEIDs...)
	if s.VerificationSummaries != nil {
		out.VerificationSummaries = make([]SummaryPolicy, len(s.VerificationSummaries))
		for i, v := range s.VerificationSummaries {
			out.VerificationSummaries[i] = v
			if v.MaxAge != nil {
				d := *v.MaxAge
				out.VerificationSummaries[i].MaxAge = &d
			}
		}
	}
}

// DeepCopyInto copies l into out.
func (l *ImagePolicyList) DeepCopyInto(out *ImagePolicyList) {
	*out = *l
	out.TypeMeta = l.TypeMeta
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	if l.Items != nil {
		out.Items = make([]ImagePolicy, len(l.Items))
		for i := range l.Items {
			l.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

// DeepCopy copies l.
func (l *ImagePolicyList) DeepCopy() *ImagePolicyList {
	if l == nil {
		return nil
	}
	out := new(ImagePolicyList)
	l.DeepCopyInto(out)
	return out
}

// DeepCopyObject copies l as a runtime.Object.
func (l *ImagePolicyList) DeepCopyObject() runtime.Object { return l.DeepCopy() }
