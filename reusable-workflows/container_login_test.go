package workflows_test

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/cli/cli/config/configfile"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"sigs.k8s.io/yaml"

	"github.com/hallmark-dev/hallmark/internal/oci"
	"github.com/hallmark-dev/hallmark/internal/oci/ocitest"
)

// loginStep is the run: script of container.yml's registry login step and
// the variables its env: block sets.
func loginStep(tb testing.TB) (script string, env []string) {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(tb), ".github", "workflows", "container.yml"))
	if err != nil {
		tb.Fatal(err)
	}
	var w struct {
		Jobs map[string]struct {
			Steps []struct {
				Name string            `json:"name"`
				Run  string            `json:"run"`
				Env  map[string]string `json:"env"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal(data, &w); err != nil {
		tb.Fatal(err)
	}
	for _, s := range w.Jobs["provenance"].Steps {
		if s.Name == "Log in to the registry" {
			for k := range s.Env {
				env = append(env, k)
			}
			return s.Run, env
		}
	}
	tb.Fatal("container.yml has no step named \"Log in to the registry\"")
	return "", nil
}

// loginRun is one run of the login step.
type loginRun struct {
	log       string // stdout and stderr, as the job's log shows them
	err       error
	config    string // the docker config folder it exported, if any
	summary   string
	runnerTmp string
}

// runLogin runs the login step's script as the runner does (bash -e, with
// the step's env: and the runner's files), outside act.
func runLogin(t *testing.T, vars map[string]string) loginRun {
	t.Helper()
	script, names := loginStep(t)
	dir := t.TempDir()
	r := loginRun{runnerTmp: filepath.Join(dir, "runner-temp")}
	if err := os.MkdirAll(r.runnerTmp, 0o755); err != nil {
		t.Fatal(err)
	}
	envFile, summary := filepath.Join(dir, "github-env"), filepath.Join(dir, "summary.md")
	for _, f := range []string{envFile, summary} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	scriptPath := filepath.Join(dir, "step.sh")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", scriptPath)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "RUNNER_TEMP=" + r.runnerTmp, "GITHUB_ENV=" + envFile, "GITHUB_STEP_SUMMARY=" + summary}
	for _, n := range names {
		if _, ok := vars[n]; !ok {
			vars[n] = "" // an input left out is empty, as the runner passes it
		}
	}
	for k, v := range vars {
		if !strings.Contains(strings.Join(names, " "), k) {
			t.Fatalf("the step's env: sets no %s", k)
		}
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	r.log, r.err = string(out), err
	exported, _ := os.ReadFile(envFile)
	for _, l := range strings.Split(string(exported), "\n") {
		if v, ok := strings.CutPrefix(l, "DOCKER_CONFIG="); ok {
			r.config = v
		}
	}
	s, _ := os.ReadFile(summary)
	r.summary = string(s)
	return r
}

// TestContainerLoginConfig runs container.yml's login step on the images a
// caller may name, and reads the docker config it writes the way docker's
// credential machinery does (go-containerregistry's default keychain, and
// docker's own config lookup): Docker Hub's credentials are found for an
// image on docker.io, index.docker.io or with no registry, which the
// config's old key "docker.io" never was; ghcr.io and HOST:PORT are found
// under their hosts. The password and the auth string reach the log only in
// the ::add-mask:: command that hides them.
func TestContainerLoginConfig(t *testing.T) {
	const user, password = "acme-bot", "dckr_pat_5e0c-registry-secret"
	digest := "@sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name string
		vars map[string]string
		// lookups are image references whose registry must get the
		// credentials; others must get none.
		lookups, others []string
		wantErr         string
	}{
		{name: "docker.io image", vars: map[string]string{"IMAGE": "docker.io/acme/app"},
			lookups: []string{"docker.io/acme/app", "acme/app", "index.docker.io/acme/other"}, others: []string{"ghcr.io/acme/app"}},
		{name: "Docker Hub image without a registry", vars: map[string]string{"IMAGE": "acme/app"},
			lookups: []string{"docker.io/acme/app"}},
		{name: "Docker Hub official image", vars: map[string]string{"IMAGE": "library/app"},
			lookups: []string{"app"}},
		{name: "index.docker.io image", vars: map[string]string{"IMAGE": "index.docker.io/acme/app"},
			lookups: []string{"docker.io/acme/app"}},
		{name: "ghcr.io image", vars: map[string]string{"IMAGE": "ghcr.io/acme/app"},
			lookups: []string{"ghcr.io/acme/app"}, others: []string{"docker.io/acme/app"}},
		{name: "registry with a port, upper case", vars: map[string]string{"IMAGE": "Registry.Example.com:5000/acme/app"},
			lookups: []string{"registry.example.com:5000/acme/app"}, others: []string{"registry.example.com/acme/app"}},
		{name: "localhost", vars: map[string]string{"IMAGE": "localhost/acme/app"},
			lookups: []string{"localhost/acme/app"}},
		{name: "subject-images on one registry", vars: map[string]string{"SUBJECT_IMAGES": "docker.io/acme/app" + digest + "\n  acme/tool" + digest + " ,docker.io/acme/cli" + digest + "\n"},
			lookups: []string{"docker.io/acme/app"}},
		{name: "registry named for images on several", vars: map[string]string{"REGISTRY": "docker.io", "SUBJECT_IMAGES": "acme/app" + digest + ",ghcr.io/acme/app" + digest},
			lookups: []string{"docker.io/acme/app"}, others: []string{"ghcr.io/acme/app"}},
		{name: "images on several registries", vars: map[string]string{"SUBJECT_IMAGES": "acme/app" + digest + "\nghcr.io/acme/app" + digest},
			wantErr: "registry-username logs in to one registry, and the images are on several (https://index.docker.io/v1/ ghcr.io): name it with the input registry"},
		{name: "no image", vars: map[string]string{}, wantErr: "no image names the registry"},
		{name: "registry that is no host", vars: map[string]string{"REGISTRY": `evil"}},"x`, "IMAGE": "acme/app"},
			wantErr: `registry: "evil"}},"x" is not a registry host`},
		{name: "no password", vars: map[string]string{"IMAGE": "acme/app", "REGISTRY_PASSWORD": ""},
			wantErr: "the secret registry-password is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"REGISTRY_USERNAME": user, "REGISTRY_PASSWORD": password}
			for k, v := range tt.vars {
				vars[k] = v
			}
			r := runLogin(t, vars)
			auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
			for _, l := range strings.Split(r.log, "\n") {
				if strings.HasPrefix(l, "::add-mask::") {
					continue
				}
				if strings.Contains(l, password) || strings.Contains(l, auth) {
					t.Errorf("a credential in the log: %q", l)
				}
			}
			if tt.wantErr != "" {
				if r.err == nil || !strings.Contains(r.log, "::error::") || !strings.Contains(r.log, tt.wantErr) || !strings.Contains(r.summary, tt.wantErr) {
					t.Fatalf("err = %v, want the step to fail saying %q in an error and the summary\nlog: %s\nsummary: %s", r.err, tt.wantErr, r.log, r.summary)
				}
				if r.config != "" {
					t.Errorf("a failed login exported DOCKER_CONFIG=%s", r.config)
				}
				return
			}
			if r.err != nil {
				t.Fatalf("login step: %v\n%s", r.err, r.log)
			}
			if !strings.Contains(r.log, "::add-mask::"+auth+"\n") {
				t.Errorf("the auth string is not masked:\n%s", r.log)
			}
			if !strings.HasPrefix(r.config, r.runnerTmp+string(filepath.Separator)) {
				t.Fatalf("DOCKER_CONFIG=%q, want a folder under RUNNER_TEMP %s", r.config, r.runnerTmp)
			}
			fi, err := os.Stat(filepath.Join(r.config, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("config.json mode %v, want 0600", fi.Mode().Perm())
			}
			t.Setenv("DOCKER_CONFIG", r.config)
			t.Setenv("HOME", t.TempDir()) // no config of the machine's in the way
			for _, ref := range tt.lookups {
				if got := credentialsFor(t, ref); got != (authn.AuthConfig{Username: user, Password: password}) {
					t.Errorf("credentials for %s: %+v, want %s's", ref, got, user)
				}
				if got := dockerLookup(t, r.config, ref); got != user {
					t.Errorf("docker's own lookup for %s: user %q, want %q", ref, got, user)
				}
			}
			for _, ref := range tt.others {
				if got := credentialsFor(t, ref); got != (authn.AuthConfig{}) {
					t.Errorf("credentials for %s: %+v, want none", ref, got)
				}
			}
		})
	}
}

// credentialsFor resolves ref's registry credentials through
// go-containerregistry's default keychain, as every Hallmark registry
// access does.
func credentialsFor(t *testing.T, ref string) authn.AuthConfig {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	a, err := authn.DefaultKeychain.Resolve(r.Context())
	if err != nil {
		t.Fatal(err)
	}
	c, err := a.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	if c.Auth != "" {
		raw, err := base64.StdEncoding.DecodeString(c.Auth)
		if err != nil {
			t.Fatal(err)
		}
		u, p, _ := strings.Cut(string(raw), ":")
		return authn.AuthConfig{Username: u, Password: p}
	}
	return authn.AuthConfig{Username: c.Username, Password: c.Password}
}

// dockerLookup is docker's own lookup of ref's credentials in the config
// (docker login, push and pull read the file so): the user name found.
func dockerLookup(t *testing.T, dir, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	key := r.Context().RegistryStr()
	if key == name.DefaultRegistry {
		key = authn.DefaultAuthKey // docker's registry.IndexServer
	}
	f, err := os.Open(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cf := configfile.New(f.Name())
	if err := cf.LoadFromReader(f); err != nil {
		t.Fatal(err)
	}
	ac, err := cf.GetAuthConfig(key)
	if err != nil {
		t.Fatal(err)
	}
	return ac.Username
}

// TestContainerLoginReachesRegistry: the config the login step writes for
// a registry that requires a login (docker-registry with htpasswd) is the
// one Hallmark's registry check and push then use; without the step the
// registry refuses, naming the registry and what to configure.
func TestContainerLoginReachesRegistry(t *testing.T) {
	const user, password = "acme-bot", "registry-secret-8b20"
	reg := ocitest.Distribution(t, ocitest.WithHtpasswd(user, password))
	ocitest.DockerConfig(t, reg)
	img := reg.Image(t, "acme/app", "v1")
	t.Setenv("HOME", t.TempDir())

	t.Setenv("DOCKER_CONFIG", t.TempDir())
	_, err := oci.CheckPush(context.Background(), img)
	var ae *oci.AuthError
	if !errors.As(err, &ae) || !errors.Is(err, oci.ErrUnauthorized) || ae.Registry != reg.Host || !strings.Contains(err.Error(), "docker login "+reg.Host) {
		t.Fatalf("without a login: err = %v, want an *oci.AuthError for %s saying to log in", err, reg.Host)
	}

	r := runLogin(t, map[string]string{"SUBJECT_IMAGES": img.String(), "REGISTRY_USERNAME": user, "REGISTRY_PASSWORD": password})
	if r.err != nil {
		t.Fatalf("login step: %v\n%s", r.err, r.log)
	}
	t.Setenv("DOCKER_CONFIG", r.config)
	if _, err := oci.CheckPush(context.Background(), img); err != nil {
		t.Fatalf("with the step's config: %v", err)
	}
}
