package ocitest

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Credentials are a user name and a password or token.
type Credentials struct{ User, Secret string }

// CredentialHelper is a docker credential helper installed for a test.
type CredentialHelper struct {
	// Name is how a docker config names it (credHelpers, credsStore): the
	// program is docker-credential-Name.
	Name string
	dir  string
}

// credentialHelperScript speaks the docker-credential-helpers protocol as
// the real helpers do: `get` reads the server URL on stdin (no newline)
// and writes {"ServerURL","Username","Secret"} as JSON, or, for a server
// it holds nothing for, "credentials not found in native keychain" with
// exit status 1, which the protocol's client reads as "no credentials".
// Each request is appended to requests.log beside it.
const credentialHelperScript = `#!/bin/sh
dir=$(dirname "$0")
server=$(cat)
printf '%s %s\n' "$1" "$server" >>"$dir/requests.log"
if [ "$1" != get ]; then
	echo "unsupported command: $1" >&2
	exit 1
fi
while IFS='	' read -r s line; do
	if [ "$s" = "$server" ]; then
		printf '%s\n' "$line"
		exit 0
	fi
done <"$dir/credentials.tsv"
echo "credentials not found in native keychain"
exit 1
`

// InstallCredentialHelper puts the executable docker-credential-NAME on
// PATH for the test, holding creds for each server URL (a registry host,
// or https://index.docker.io/v1/ for Docker Hub). It is a shell script that
// speaks the helpers' real protocol; point a docker config at it with
// DockerConfigJSON.
func InstallCredentialHelper(tb testing.TB, name string, creds map[string]Credentials) *CredentialHelper {
	tb.Helper()
	dir := tb.TempDir()
	var tsv strings.Builder
	for server, c := range creds {
		answer, err := json.Marshal(map[string]string{"ServerURL": server, "Username": c.User, "Secret": c.Secret})
		if err != nil {
			tb.Fatal(err)
		}
		tsv.WriteString(server + "\t" + string(answer) + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "credentials.tsv"), []byte(tsv.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-"+name), []byte(credentialHelperScript), 0o700); err != nil {
		tb.Fatal(err)
	}
	tb.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return &CredentialHelper{Name: name, dir: dir}
}

// Requests lists the requests the helper answered, "COMMAND SERVER-URL".
func (h *CredentialHelper) Requests(tb testing.TB) []string {
	tb.Helper()
	f, err := os.Open(filepath.Join(h.dir, "requests.log"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []string
	for s := bufio.NewScanner(f); s.Scan(); {
		out = append(out, s.Text())
	}
	return out
}

// DockerConfigJSON writes config as a docker config.json in a folder of its
// own and points DOCKER_CONFIG at it for the test; it returns the file.
func DockerConfigJSON(tb testing.TB, config string) string {
	tb.Helper()
	dir := tb.TempDir()
	p := filepath.Join(dir, "config.json")
	if err := os.WriteFile(p, []byte(config), 0o600); err != nil {
		tb.Fatal(err)
	}
	tb.Setenv("DOCKER_CONFIG", dir)
	return p
}
