package factory

import (
	"context"
	"errors"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hallmark-dev/hallmark/internal/tenancy"
)

// PolicyKey is the ConfigMap key holding the tenancy policy document.
const PolicyKey = "policy.yaml"

// policyReader reads the tenancy policy from its ConfigMap (through the
// manager's cache) and parses each version once.
type policyReader struct {
	client client.Reader
	name   types.NamespacedName

	mu      sync.Mutex
	version string // UID and resourceVersion of the parsed ConfigMap
	policy  *tenancy.Policy
	err     error
}

// read returns the policy as the ConfigMap holds it now. A missing or
// malformed policy is an error the controller retries: nothing is signed
// without one.
func (p *policyReader) read(ctx context.Context) (*tenancy.Policy, error) {
	cm := &corev1.ConfigMap{}
	if err := p.client.Get(ctx, p.name, cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("tenancy policy: ConfigMap %s does not exist: create it (see kubernetes/README.md)", p.name)
		}
		return nil, fmt.Errorf("reading tenancy policy ConfigMap %s: %w", p.name, err)
	}
	version := string(cm.UID) + "/" + cm.ResourceVersion
	p.mu.Lock()
	defer p.mu.Unlock()
	if version != p.version {
		data, ok := cm.Data[PolicyKey]
		if !ok {
			p.policy, p.err = nil, fmt.Errorf("tenancy policy: ConfigMap %s has no key %s", p.name, PolicyKey)
		} else {
			p.policy, p.err = tenancy.Parse(p.name.String(), []byte(data))
			if p.err != nil {
				p.err = fmt.Errorf("tenancy policy ConfigMap %s: %w", p.name, p.err)
			}
		}
		p.version = version
	}
	return p.policy, p.err
}

// tenant finds the tenant of a namespace, reading the namespace's labels
// only when a tenant selects by them. ErrNoTenant means the run is refused.
func (r *reconciler) tenant(ctx context.Context, pol *tenancy.Policy, namespace string) (*tenancy.Tenant, error) {
	var nsLabels map[string]string
	if pol.NeedsLabels() {
		ns := &corev1.Namespace{}
		if err := r.client.Get(ctx, types.NamespacedName{Name: namespace}, ns); err != nil {
			return nil, fmt.Errorf("reading the labels of namespace %s: %w", namespace, err)
		}
		nsLabels = ns.Labels
	}
	t, err := pol.Tenant(namespace, nsLabels)
	if err != nil && !errors.Is(err, tenancy.ErrNoTenant) {
		return nil, err
	}
	return t, err
}
