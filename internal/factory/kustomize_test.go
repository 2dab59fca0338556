package factory_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/hallmark-dev/hallmark/internal/factory"
	"github.com/hallmark-dev/hallmark/internal/factory/factorytest"
	"github.com/hallmark-dev/hallmark/internal/factory/image"
	"github.com/hallmark-dev/hallmark/internal/tenancy"
)

// render builds a Kustomization under kubernetes/ as kubectl apply -k does.
func render(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join("..", "..", "kubernetes", dir))
	if err != nil {
		t.Fatalf("kustomize build kubernetes/%s: %v", dir, err)
	}
	var objs []*unstructured.Unstructured
	for _, r := range m.Resources() {
		raw, err := r.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, u)
	}
	return objs
}

// TestKustomizeInstall renders kubernetes/'s overlays as the README
// installs them — SPIRE, then the controller, then the example — and
// applies every object to a real apiserver (with Tekton's CRDs), in that
// order, checking that each is accepted and stored, that the controller's
// image is pinned by digest, that the shipped tenancy policy loads and
// that no RBAC rule uses a wildcard.
func TestKustomizeInstall(t *testing.T) {
	api := factorytest.Start(t)
	counts := map[string]map[string]int{}
	for _, overlay := range []string{"overlays/spire", "overlays/controller", "overlays/example"} {
		objs := render(t, overlay)
		counts[overlay] = map[string]int{}
		for _, u := range objs {
			counts[overlay][u.GetKind()]++
			checkObject(t, u)
		}
		// Namespaces and CRDs first, as kubectl apply does, so that what
		// lives in them is accepted.
		for _, first := range []bool{true, false} {
			for _, u := range objs {
				if (u.GetKind() == "Namespace" || u.GetKind() == "CustomResourceDefinition") != first {
					continue
				}
				if err := api.Client.Apply(t.Context(), client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner("hallmark-install-test"), client.ForceOwnership); err != nil {
					t.Errorf("%s: applying %s %s/%s: %v", overlay, u.GetKind(), u.GetNamespace(), u.GetName(), err)
					continue
				}
				if u.GetKind() == "CustomResourceDefinition" {
					waitEstablished(t, api, u.GetName())
				}
			}
		}
		for _, u := range objs {
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(u.GroupVersionKind())
			if err := api.Client.Get(t.Context(), client.ObjectKeyFromObject(u), got); err != nil {
				t.Errorf("%s: %s %s/%s is not stored: %v", overlay, u.GetKind(), u.GetNamespace(), u.GetName(), err)
			}
		}
	}
	for overlay, want := range map[string][]string{
		"overlays/spire":      {"Namespace", "CustomResourceDefinition", "StatefulSet", "DaemonSet", "CSIDriver", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ConfigMap", "Service"},
		"overlays/controller": {"Namespace", "Deployment", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ConfigMap", "NetworkPolicy", "ClusterSPIFFEID"},
		"overlays/example":    {"Namespace", "Task", "Pipeline"},
	} {
		for _, k := range want {
			if counts[overlay][k] == 0 {
				t.Errorf("%s has no %s", overlay, k)
			}
		}
	}
}

// checkObject checks what must hold of one rendered object.
func checkObject(t *testing.T, u *unstructured.Unstructured) {
	t.Helper()
	switch u.GetKind() {
	case "ClusterRole", "Role":
		rules, _, _ := unstructured.NestedSlice(u.Object, "rules")
		for _, r := range rules {
			m := r.(map[string]any)
			for _, field := range []string{"verbs", "resources", "apiGroups"} {
				vs, _ := m[field].([]any)
				for _, v := range vs {
					if strings.Contains(v.(string), "*") {
						t.Errorf("%s %s: wildcard %s %q", u.GetKind(), u.GetName(), field, v)
					}
				}
			}
		}
	case "Deployment":
		if u.GetName() != "hallmark-factory" {
			return
		}
		cs, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		img, _ := cs[0].(map[string]any)["image"].(string)
		if !strings.Contains(img, "@sha256:") || !strings.Contains(img, image.ImageName+"@") {
			t.Errorf("the controller's image %q is not pinned by digest (kustomization images:)", img)
		}
	case "ConfigMap":
		if u.GetName() != "hallmark-tenancy" {
			return
		}
		// The shipped tenancy policy must load: without one the
		// controller signs nothing.
		doc, _, _ := unstructured.NestedString(u.Object, "data", factory.PolicyKey)
		if _, err := tenancy.Parse(u.GetNamespace()+"/"+u.GetName(), []byte(doc)); err != nil {
			t.Errorf("the shipped tenancy policy: %v", err)
		}
	}
}

func waitEstablished(t *testing.T, api *factorytest.API, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		crd := &unstructured.Unstructured{}
		crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
		if err := api.Client.Get(t.Context(), client.ObjectKey{Name: name}, crd); err == nil {
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
			for _, c := range conds {
				m := c.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					// The client learns the new kind on its next lookup.
					if _, err := api.Client.RESTMapper().RESTMapping(schema.GroupKind{Group: group, Kind: kind}); err == nil {
						return
					}
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("CRD %s not established", name)
}
