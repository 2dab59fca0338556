package admission

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// workload is a Pod or a pod controller as admission sees it: the pod
// spec it runs and where that spec sits in the object.
type workload struct {
	kind string
	// object is the decoded object: what the webhook reads of it.
	object any
	meta   *objectMeta
	spec   *podSpec
	// prefix is the JSON pointer to the pod spec.
	prefix string
}

// objectMeta is what the webhook reads of an object's metadata.
type objectMeta struct {
	Name         string `json:"name,omitempty"`
	GenerateName string `json:"generateName,omitempty"`
}

// podSpec is what the webhook reads of a pod spec: the containers' names
// and images, the pull secrets and the service account. Decoding only
// these (not the whole Pod) is most of what a cached verdict costs saved.
type podSpec struct {
	InitContainers           []container      `json:"initContainers,omitempty"`
	Containers               []container      `json:"containers,omitempty"`
	EphemeralContainers      []container      `json:"ephemeralContainers,omitempty"`
	ImagePullSecrets         []localObjectRef `json:"imagePullSecrets,omitempty"`
	ServiceAccountName       string           `json:"serviceAccountName,omitempty"`
	DeprecatedServiceAccount string           `json:"serviceAccount,omitempty"`
}

type container struct {
	Name  string `json:"name"`
	Image string `json:"image,omitempty"`
}

type localObjectRef struct {
	Name string `json:"name"`
}

// The shapes of the workloads: a Pod, a controller with a pod template,
// and a CronJob's job template.
type (
	podObject struct {
		Metadata objectMeta `json:"metadata"`
		Spec     podSpec    `json:"spec"`
	}
	podTemplate struct {
		Spec podSpec `json:"spec"`
	}
	templateObject struct {
		Metadata objectMeta `json:"metadata"`
		Spec     struct {
			Template *podTemplate `json:"template,omitempty"`
		} `json:"spec"`
	}
	cronJobObject struct {
		Metadata objectMeta `json:"metadata"`
		Spec     struct {
			JobTemplate struct {
				Spec struct {
					Template *podTemplate `json:"template,omitempty"`
				} `json:"spec"`
			} `json:"jobTemplate"`
		} `json:"spec"`
	}
)

// Workload kinds the webhook reads, by resource.
var workloadResources = map[metav1.GroupVersionResource]string{
	{Group: "", Version: "v1", Resource: "pods"}:                   "Pod",
	{Group: "apps", Version: "v1", Resource: "deployments"}:        "Deployment",
	{Group: "apps", Version: "v1", Resource: "replicasets"}:        "ReplicaSet",
	{Group: "apps", Version: "v1", Resource: "statefulsets"}:       "StatefulSet",
	{Group: "apps", Version: "v1", Resource: "daemonsets"}:         "DaemonSet",
	{Group: "batch", Version: "v1", Resource: "jobs"}:              "Job",
	{Group: "batch", Version: "v1", Resource: "cronjobs"}:          "CronJob",
	{Group: "", Version: "v1", Resource: "replicationcontrollers"}: "ReplicationController",
}

// decodeWorkload reads an admitted object of the resource's kind. An
// empty raw object (a DELETE's) is no workload.
func decodeWorkload(res metav1.GroupVersionResource, raw []byte) (*workload, error) {
	kind, ok := workloadResources[res]
	if !ok {
		return nil, fmt.Errorf("resource %s is not a workload this webhook reads", res.String())
	}
	if len(raw) == 0 {
		return nil, nil
	}
	w := &workload{kind: kind}
	switch kind {
	case "Pod":
		var o podObject
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", kind, err)
		}
		w.object, w.meta, w.spec, w.prefix = &o, &o.Metadata, &o.Spec, "/spec"
	case "CronJob":
		var o cronJobObject
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", kind, err)
		}
		w.object, w.meta, w.prefix = &o, &o.Metadata, "/spec/jobTemplate/spec/template/spec"
		if t := o.Spec.JobTemplate.Spec.Template; t != nil {
			w.spec = &t.Spec
		}
	default:
		var o templateObject
		if err := json.Unmarshal(raw, &o); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", kind, err)
		}
		w.object, w.meta, w.prefix = &o, &o.Metadata, "/spec/template/spec"
		if t := o.Spec.Template; t != nil {
			w.spec = &t.Spec
		}
	}
	if w.spec == nil {
		w.spec = &podSpec{}
	}
	return w, nil
}

// containerImage is one image a workload runs.
type containerImage struct {
	// where is "container NAME", "init container NAME" or "ephemeral
	// container NAME".
	where string
	// path is the JSON pointer to the image field.
	path  string
	image string
}

// images lists every container's image: containers, init containers and
// ephemeral containers. A container without an image is left out: the API
// server's validation, which runs after the mutating webhooks and before
// the validating ones, refuses it.
func (w *workload) images() []containerImage {
	if w == nil || w.spec == nil {
		return nil
	}
	var out []containerImage
	add := func(kind, field string, i int, c string, image string) {
		if image != "" {
			out = append(out, containerImage{where: kind + strconv.Quote(c), path: w.prefix + "/" + field + "/" + strconv.Itoa(i) + "/image", image: image})
		}
	}
	for i, c := range w.spec.InitContainers {
		add("init container ", "initContainers", i, c.Name, c.Image)
	}
	for i, c := range w.spec.Containers {
		add("container ", "containers", i, c.Name, c.Image)
	}
	for i, c := range w.spec.EphemeralContainers {
		add("ephemeral container ", "ephemeralContainers", i, c.Name, c.Image)
	}
	return out
}

// changedImages is the images of w that old did not already run: on an
// update, only a new or changed image is judged (an unchanged one was
// judged when it came in, and judging it again would block the object's
// other updates, finalizers and scaling among them, whenever a policy
// changed).
func changedImages(w, old *workload) []containerImage {
	all := w.images()
	if old == nil {
		return all
	}
	had := map[string]bool{}
	for _, ci := range old.images() {
		had[ci.image] = true
	}
	var out []containerImage
	for _, ci := range all {
		if !had[ci.image] {
			out = append(out, ci)
		}
	}
	return out
}

// pullSecretNames are the pod's image pull secrets' names.
func (w *workload) pullSecretNames() []string {
	var out []string
	for _, s := range w.spec.ImagePullSecrets {
		if s.Name != "" {
			out = append(out, s.Name)
		}
	}
	return out
}

// serviceAccount is the pod's service account ("default" when unset).
func (w *workload) serviceAccount() string {
	if w.spec.ServiceAccountName != "" {
		return w.spec.ServiceAccountName
	}
	if w.spec.DeprecatedServiceAccount != "" {
		return w.spec.DeprecatedServiceAccount
	}
	return "default"
}

// pinned reports whether an image reference names a digest.
func pinned(image string) bool { return strings.Contains(image, "@") }

// pin rewrites an image reference by tag as the same name by digest,
// dropping the tag: registry/repo:tag becomes registry/repo@sha256:HEX.
func pin(image, digest string) string {
	base := image
	if i := strings.LastIndex(base, ":"); i > strings.LastIndex(base, "/") {
		base = base[:i]
	}
	return base + "@" + digest
}

// patchOp is one JSON patch (RFC 6902) operation.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
}
