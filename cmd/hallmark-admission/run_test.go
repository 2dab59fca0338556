package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

func TestRunRefusesBadFlags(t *testing.T) {
	root := filepath.Join("..", "..", "testdata", "realworld", "gh", "trusted_root.json")
	tests := []struct {
		name string
		args []string
		says string
	}{
		{"no namespace", []string{"--trusted-root", root}, "--namespace is required"},
		{"no trusted root", []string{"--namespace", "x"}, "--trusted-root is required"},
		{"a trusted root that is not one", []string{"--namespace", "x", "--trusted-root", "run.go"}, "--trusted-root run.go"},
		{"an unknown flag", []string{"--namespace", "x", "--enforce-nothing"}, "flag provided but not defined"},
		{"a bad log level", []string{"--log-level", "loud"}, "--log-level"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if code := run(context.Background(), tc.args, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.says) {
				t.Fatalf("exit %d, want 2 saying %q:\n%s", code, tc.says, stderr.String())
			}
		})
	}
}

// TestDeploymentArgsParse: every flag the shipped Deployment passes is one
// the binary knows (it gets as far as looking for the API server).
func TestDeploymentArgsParse(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "kubernetes", "admission", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(data, &d); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join("..", "..", "testdata", "realworld", "gh", "trusted_root.json")
	var args []string
	for _, a := range d.Spec.Template.Spec.Containers[0].Args {
		a = strings.ReplaceAll(a, "$(POD_NAMESPACE)", "hallmark-admission")
		if strings.HasPrefix(a, "--trusted-root=") {
			a = "--trusted-root=" + root
		}
		args = append(args, a)
	}
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("HOME", t.TempDir())
	var stderr bytes.Buffer
	if code := run(context.Background(), args, &stderr); code != 1 || !strings.Contains(stderr.String(), "hallmark-admission") {
		t.Fatalf("exit %d, want 1 (no API server here):\n%s", code, stderr.String())
	}
}
