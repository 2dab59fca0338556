package cli_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/sandbox/sandboxtest"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

// hallmark runs the built binary and returns stdout, stderr and exit code.
func hallmark(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(sandboxtest.Binary(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestSandboxCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the sandbox's servers; runs without -short")
	}
	base, err := os.MkdirTemp("", "hm-cli-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	dir := filepath.Join(base, "sb")
	defer exec.Command(sandboxtest.Binary(t), "sandbox", "down", "--dir", dir).Run()

	out, errOut, code := hallmark(t, "sandbox", "up", "--dir", dir, "--format", "json")
	if code != 0 {
		t.Fatalf("up: exit %d\n%s", code, errOut)
	}
	var up struct {
		Issuer, Fulcio, Rekor, TSA string
		TrustedRoot                string `json:"trustedRoot"`
		SigningConfig              string `json:"signingConfig"`
	}
	if err := json.Unmarshal([]byte(out), &up); err != nil {
		t.Fatalf("up --format json: %v\n%s", err, out)
	}
	for _, f := range []string{up.TrustedRoot, up.SigningConfig} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("missing %s", f)
		}
	}

	t.Run("status", func(t *testing.T) {
		out, errOut, code := hallmark(t, "sandbox", "status", "--dir", dir, "--format", "json")
		if code != 0 {
			t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
		}
		var st struct {
			Healthy bool
			Servers []struct {
				Name    string
				Healthy bool
			}
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatal(err)
		}
		if !st.Healthy || len(st.Servers) != 4 {
			t.Errorf("status = %+v", st)
		}
	})

	t.Run("up again is refused", func(t *testing.T) {
		_, errOut, code := hallmark(t, "sandbox", "up", "--dir", dir)
		if code == 0 || !strings.Contains(errOut, "already running") || !strings.Contains(errOut, "sandbox down") {
			t.Errorf("exit %d, stderr %q: want a refusal that says to run down", code, errOut)
		}
	})

	t.Run("token", func(t *testing.T) {
		out, errOut, code := hallmark(t, "sandbox", "token", "--dir", dir, "--claim", "repository=acme/app")
		if code != 0 {
			t.Fatalf("token: exit %d: %s", code, errOut)
		}
		claims := jwtClaims(t, strings.TrimSpace(out))
		if claims["repository"] != "acme/app" || claims["aud"] != "sigstore" || claims["iss"] != up.Issuer {
			t.Errorf("claims = %v", claims)
		}
		if _, errOut, code := hallmark(t, "sandbox", "token", "--dir", dir, "--claim", "nokey"); code == 0 {
			t.Errorf("malformed --claim accepted: %s", errOut)
		}
	})

	t.Run("env serves the actions token protocol", func(t *testing.T) {
		out, errOut, code := hallmark(t, "sandbox", "env", "--dir", dir, "--claim", "event_name=release")
		if code != 0 {
			t.Fatalf("env: exit %d: %s", code, errOut)
		}
		env := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			kv, ok := strings.CutPrefix(line, "export ")
			if !ok {
				t.Fatalf("not an export line: %q", line)
			}
			k, v, _ := strings.Cut(kv, "=")
			env[k] = strings.Trim(v, "'")
		}
		if env["HALLMARK_TRUSTED_ROOT"] != up.TrustedRoot || env["HALLMARK_SIGNING_CONFIG"] != up.SigningConfig {
			t.Errorf("trust paths = %v", env)
		}
		// Exactly what @actions/core's getIDToken does.
		req, _ := http.NewRequest(http.MethodGet, env["ACTIONS_ID_TOKEN_REQUEST_URL"]+"&audience=sigstore", nil)
		req.Header.Set("Authorization", "bearer "+env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct{ Value string }
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
			t.Fatalf("token request: %d %v", res.StatusCode, err)
		}
		if c := jwtClaims(t, body.Value); c["event_name"] != "release" || c["aud"] != "sigstore" {
			t.Errorf("claims = %v", c)
		}
	})

	t.Run("down", func(t *testing.T) {
		out, errOut, code := hallmark(t, "sandbox", "down", "--dir", dir)
		if code != 0 {
			t.Fatalf("down: exit %d: %s", code, errOut)
		}
		if !strings.Contains(out, "stopped 4 processes") {
			t.Errorf("down said %q", out)
		}
		if _, _, code := hallmark(t, "sandbox", "status", "--dir", dir); code == 0 {
			t.Error("status after down exits 0")
		}
		if _, errOut, code := hallmark(t, "sandbox", "down", "--dir", dir); code == 0 || !strings.Contains(errOut, "no sandbox running") {
			t.Errorf("second down: exit %d, %q", code, errOut)
		}
	})
}

func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}
