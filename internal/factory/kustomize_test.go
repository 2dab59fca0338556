package factory_test

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hallmark-dev/hallmark/internal/factory"
	"github.com/hallmark-dev/hallmark/internal/factory/factorytest"
	"github.com/hallmark-dev/hallmark/internal/tenancy"
)

// TestKustomizeBaseApplies renders kubernetes/ with kubectl kustomize and
// applies every object with server-side dry-run to a real apiserver with
// Tekton's CRDs, and checks the RBAC stays least-privilege.
func TestKustomizeBaseApplies(t *testing.T) {
	api := factorytest.Start(t)
	kubectl := filepath.Join(api.Assets, "kubectl")
	out, err := exec.Command(kubectl, "kustomize", filepath.Join("..", "..", "kubernetes")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v", err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	kinds := map[string]bool{}
	for _, u := range objs {
		kinds[u.GetKind()] = true
		if u.GetKind() == "Namespace" {
			// Namespaced objects need it to exist for the dry run.
			if err := api.Client.Create(t.Context(), u.DeepCopy()); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, k := range []string{"Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ConfigMap", "NetworkPolicy", "Task", "Pipeline"} {
		if !kinds[k] {
			t.Errorf("the base has no %s", k)
		}
	}
	policies := 0
	for _, u := range objs {
		if u.GetKind() == "ConfigMap" && u.GetName() == "hallmark-tenancy" {
			// The shipped tenancy policy must load: without one the
			// controller signs nothing.
			doc, _, _ := unstructured.NestedString(u.Object, "data", factory.PolicyKey)
			if _, err := tenancy.Parse(u.GetNamespace()+"/"+u.GetName(), []byte(doc)); err != nil {
				t.Errorf("the shipped tenancy policy: %v", err)
			}
			policies++
		}
	}
	if policies != 1 {
		t.Errorf("the base has %d tenancy policy ConfigMaps, want 1", policies)
	}
	for _, u := range objs {
		t.Run(u.GetKind()+"/"+u.GetName(), func(t *testing.T) {
			if err := api.Client.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(u), client.DryRunAll, client.FieldOwner("hallmark-test"), client.ForceOwnership); err != nil {
				t.Fatalf("server-side dry-run apply: %v", err)
			}
			if u.GetKind() == "ClusterRole" || u.GetKind() == "Role" {
				rules, _, _ := unstructured.NestedSlice(u.Object, "rules")
				for _, r := range rules {
					m := r.(map[string]any)
					for _, field := range []string{"verbs", "resources", "apiGroups"} {
						for _, v := range m[field].([]any) {
							if strings.Contains(v.(string), "*") {
								t.Errorf("wildcard %s %q", field, v)
							}
						}
					}
				}
			}
		})
	}
}
