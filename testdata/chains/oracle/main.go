// Command oracle runs Tekton Chains' own slsa/v2alpha4 formatter over the
// cases of ../cases.json and writes the statements it gives to
// ../expected/. It is built in a throwaway module that requires
// github.com/tektoncd/chains at the version README.md names (see
// generate.sh), never in Hallmark's own module: Chains needs other versions
// of Tekton and Sigstore than Hallmark pins.
//
// Before formatting, it copies each input from Chains' testdata (or from
// ../synthetic/) to ../inputs/, replacing the placeholder digests Hallmark
// refuses (README.md lists the rule): the same inputs go to both.
package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/tektoncd/chains/pkg/chains/formats/slsa/v2alpha4"
	"github.com/tektoncd/chains/pkg/chains/objects"
	"github.com/tektoncd/chains/pkg/config"
	pipelinev1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

type testCase struct {
	Name     string   `json:"name"`
	Kind     string   `json:"kind"`
	Run      string   `json:"run"`
	Children []string `json:"children"`
}

type table struct {
	BuilderID    string     `json:"builderID"`
	Placeholders []string   `json:"placeholders"`
	Cases        []testCase `json:"cases"`
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: oracle CHAINS_MODULE_DIR TESTDATA_CHAINS_DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "oracle:", err)
		os.Exit(1)
	}
}

func run(chainsDir, dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		return err
	}
	var t table
	if err := json.Unmarshal(raw, &t); err != nil {
		return fmt.Errorf("cases.json: %w", err)
	}
	// Copy every input once, with its placeholders replaced.
	for _, c := range t.Cases {
		for _, f := range append([]string{c.Run}, c.Children...) {
			if err := copyInput(chainsDir, dir, f, t.Placeholders); err != nil {
				return err
			}
		}
	}
	cfg := config.Config{Builder: config.BuilderConfig{ID: t.BuilderID}}
	cfg.Artifacts.PipelineRuns.DeepInspectionEnabled = true
	f, err := v2alpha4.NewFormatter(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "expected"), 0o755); err != nil {
		return err
	}
	for _, c := range t.Cases {
		var obj any
		switch c.Kind {
		case "TaskRun":
			tr := &pipelinev1.TaskRun{}
			if err := load(dir, c.Run, tr); err != nil {
				return err
			}
			obj = objects.NewTaskRunObjectV1(tr)
		case "PipelineRun":
			pr := &pipelinev1.PipelineRun{}
			if err := load(dir, c.Run, pr); err != nil {
				return err
			}
			pro := objects.NewPipelineRunObjectV1(pr)
			for _, child := range c.Children {
				tr := &pipelinev1.TaskRun{}
				if err := load(dir, child, tr); err != nil {
					return err
				}
				pro.AppendTaskRun(tr)
			}
			obj = pro
		default:
			return fmt.Errorf("case %s: kind %q", c.Name, c.Kind)
		}
		payload, err := f.CreatePayload(context.Background(), obj)
		if err != nil {
			return fmt.Errorf("case %s: %w", c.Name, err)
		}
		st, ok := payload.(intoto.Statement)
		if !ok {
			return fmt.Errorf("case %s: payload %T", c.Name, payload)
		}
		// Chains lists *IMAGE_URL subjects in Go map order; sort the
		// subjects so that the file does not change between runs.
		slices.SortFunc(st.Subject, func(a, b *intoto.ResourceDescriptor) int {
			if c := strings.Compare(a.Name, b.Name); c != 0 {
				return c
			}
			return strings.Compare(fmt.Sprint(a.Digest), fmt.Sprint(b.Digest))
		})
		out, err := protojson.Marshal(&st)
		if err != nil {
			return err
		}
		if err := writeJSON(filepath.Join(dir, "expected", c.Name+".json"), out); err != nil {
			return err
		}
	}
	return nil
}

func load(dir, name string, v any) error {
	raw, err := os.ReadFile(filepath.Join(dir, "inputs", inputName(name)))
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// copyInput copies one input to inputs/: "chains:PATH" from Chains'
// pkg/chains/formats/slsa/testdata, "synthetic:NAME" from synthetic/.
func copyInput(chainsDir, dir, name string, placeholders []string) error {
	var src string
	switch from, path, _ := strings.Cut(name, ":"); from {
	case "chains":
		src = filepath.Join(chainsDir, "pkg", "chains", "formats", "slsa", "testdata", path)
	case "synthetic":
		src = filepath.Join(dir, "synthetic", path)
	default:
		return fmt.Errorf("input %q: want chains:PATH or synthetic:NAME", name)
	}
	raw, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	doc = replace(doc, "", false, placeholders)
	out, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "inputs"), 0o755); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, "inputs", inputName(name)), out)
}

// inputName is the file name of an input under inputs/.
func inputName(name string) string {
	_, path, _ := strings.Cut(name, ":")
	return filepath.Base(path)
}

// replace walks a decoded JSON document and replaces each placeholder
// digest with the SHA-1 of its text: under a key "sha1" (a refSource's
// digest) or as the value or default of a CHAINS-GIT_COMMIT param or result.
func replace(v any, key string, commit bool, placeholders []string) any {
	switch x := v.(type) {
	case map[string]any:
		isCommit := x["name"] == "CHAINS-GIT_COMMIT"
		for k, child := range x {
			x[k] = replace(child, k, isCommit && (k == "value" || k == "default"), placeholders)
		}
		return x
	case []any:
		for i, child := range x {
			x[i] = replace(child, key, false, placeholders)
		}
		return x
	case string:
		if (key == "sha1" || commit) && slices.Contains(placeholders, x) {
			sum := sha1.Sum([]byte(x))
			return hex.EncodeToString(sum[:])
		}
	}
	return v
}

func writeJSON(path string, raw []byte) error {
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}
