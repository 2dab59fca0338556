package admission

import (
	"encoding/json"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDecodeWorkloadFindsEveryImage(t *testing.T) {
	spec := `{"initContainers":[{"name":"i","image":"r.example/init:v1"}],"containers":[{"name":"a","image":"r.example/app:v1"},{"name":"b","image":"r.example/b@sha256:` + strings.Repeat("b", 64) + `"}]}`
	pod := `{"metadata":{"name":"p"},"spec":{"ephemeralContainers":[{"name":"e","image":"r.example/debug:v1"}],` + spec[1:] + `}`
	tmpl := `{"metadata":{"name":"w"},"spec":{"template":{"spec":` + spec + `}}}`
	tests := []struct {
		res    metav1.GroupVersionResource
		raw    string
		prefix string
		n      int
	}{
		{metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, pod, "/spec", 4},
		{metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, tmpl, "/spec/template/spec", 3},
		{metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}, tmpl, "/spec/template/spec", 3},
		{metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}, tmpl, "/spec/template/spec", 3},
		{metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}, tmpl, "/spec/template/spec", 3},
		{metav1.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, tmpl, "/spec/template/spec", 3},
		{metav1.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}, `{"spec":{"jobTemplate":{"spec":{"template":{"spec":` + spec + `}}}}}`, "/spec/jobTemplate/spec/template/spec", 3},
		{metav1.GroupVersionResource{Version: "v1", Resource: "replicationcontrollers"}, tmpl, "/spec/template/spec", 3},
	}
	for _, tc := range tests {
		t.Run(tc.res.Resource, func(t *testing.T) {
			w, err := decodeWorkload(tc.res, []byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			imgs := w.images()
			if len(imgs) != tc.n {
				t.Fatalf("%d images, want %d: %+v", len(imgs), tc.n, imgs)
			}
			// Each path must address the image in the object: a patch
			// replacing it must apply.
			var ops []patchOp
			for _, ci := range imgs {
				if !strings.HasPrefix(ci.path, tc.prefix+"/") {
					t.Fatalf("path %s outside %s", ci.path, tc.prefix)
				}
				ops = append(ops, patchOp{Op: "replace", Path: ci.path, Value: "pinned"})
			}
			applyPatch(t, tc.raw, ops, len(imgs))
		})
	}
	if _, err := decodeWorkload(metav1.GroupVersionResource{Version: "v1", Resource: "secrets"}, []byte(`{}`)); err == nil {
		t.Fatal("a secret was read as a workload")
	}
}

// applyPatch applies ops to doc and checks that n images became "pinned".
func applyPatch(t *testing.T, doc string, ops []patchOp, n int) {
	t.Helper()
	raw, _ := json.Marshal(ops)
	p, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply([]byte(doc))
	if err != nil {
		t.Fatalf("the patch does not apply: %v", err)
	}
	if got := strings.Count(string(out), `"pinned"`); got != n {
		t.Fatalf("%d images pinned, want %d: %s", got, n, out)
	}
}

func TestPin(t *testing.T) {
	d := "sha256:" + strings.Repeat("a", 64)
	tests := []struct{ image, want string }{
		{"nginx", "nginx@" + d},
		{"nginx:1.27", "nginx@" + d},
		{"r.example:5000/team/app", "r.example:5000/team/app@" + d},
		{"r.example:5000/team/app:v1.2", "r.example:5000/team/app@" + d},
		{"localhost:5000/app:latest", "localhost:5000/app@" + d},
	}
	for _, tc := range tests {
		if got := pin(tc.image, d); got != tc.want {
			t.Errorf("pin(%s) = %s, want %s", tc.image, got, tc.want)
		}
	}
}

func TestChangedImagesOnUpdate(t *testing.T) {
	res := metav1.GroupVersionResource{Version: "v1", Resource: "pods"}
	old, _ := decodeWorkload(res, []byte(`{"spec":{"containers":[{"name":"a","image":"r.example/a@sha256:`+strings.Repeat("a", 64)+`"}]}}`))
	now, _ := decodeWorkload(res, []byte(`{"spec":{"containers":[{"name":"a","image":"r.example/a@sha256:`+strings.Repeat("a", 64)+`"}],"ephemeralContainers":[{"name":"e","image":"r.example/debug:v1"}]}}`))
	got := changedImages(now, old)
	if len(got) != 1 || got[0].image != "r.example/debug:v1" || got[0].where != `ephemeral container "e"` {
		t.Fatalf("changed images %+v, want only the new ephemeral container", got)
	}
	if len(changedImages(old, old)) != 0 {
		t.Fatal("an unchanged workload has images to judge")
	}
	if len(changedImages(now, nil)) != 2 {
		t.Fatal("a created workload does not have every image judged")
	}
}

func FuzzDecodeWorkload(f *testing.F) {
	f.Add(0, []byte(`{"spec":{"containers":[{"name":"a","image":"r.example/a:v1"}]}}`))
	f.Add(1, []byte(`{"spec":{"template":{"spec":{"initContainers":[{"name":"i","image":"x"}]}}}}`))
	f.Add(6, []byte(`{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"image":"y"}]}}}}}}`))
	resources := []metav1.GroupVersionResource{
		{Version: "v1", Resource: "pods"},
		{Group: "apps", Version: "v1", Resource: "deployments"},
		{Group: "apps", Version: "v1", Resource: "replicasets"},
		{Group: "apps", Version: "v1", Resource: "statefulsets"},
		{Group: "apps", Version: "v1", Resource: "daemonsets"},
		{Group: "batch", Version: "v1", Resource: "jobs"},
		{Group: "batch", Version: "v1", Resource: "cronjobs"},
		{Version: "v1", Resource: "replicationcontrollers"},
	}
	f.Fuzz(func(t *testing.T, which int, raw []byte) {
		if which < 0 {
			which = -which
		}
		w, err := decodeWorkload(resources[which%len(resources)], raw)
		if err != nil || w == nil {
			return
		}
		// The API server sends objects as it serializes them: patch
		// that form, as the patch will be applied to it.
		canonical, err := json.Marshal(w.object)
		if err != nil {
			t.Fatal(err)
		}
		var ops []patchOp
		for _, ci := range w.images() {
			ops = append(ops, patchOp{Op: "replace", Path: ci.path, Value: pin(ci.image, "sha256:"+strings.Repeat("0", 64))})
		}
		if len(changedImages(w, w)) != 0 {
			t.Fatal("a workload changed images against itself")
		}
		w.pullSecretNames()
		w.serviceAccount()
		if len(ops) > 0 {
			raw, _ := json.Marshal(ops)
			p, err := jsonpatch.DecodePatch(raw)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Apply(canonical); err != nil {
				t.Fatalf("the patch of a decoded workload does not apply: %v\n%s\n%s", err, raw, canonical)
			}
		}
	})
}
