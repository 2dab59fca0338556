// Package tenancy is factory mode's tenancy policy: which source
// repositories the runs of each namespace may claim, which sources of
// Task, Pipeline and StepAction definitions the controller trusts, which
// trusted Tasks fetch source (so that their results, not a tenant's
// parameters, say what was built), and the highest SLSA build level the
// controller may vouch for.
//
// A policy is a YAML (or JSON) document, kept by the platform in a
// ConfigMap the tenants cannot write; the controller reads it at signing
// time and records its name and SHA-256 in every statement. [Parse] checks
// it whole: unknown fields, levels out of range, dangling names and
// contradictions are errors, so a policy that loads means what it says.
//
//	apiVersion: factory.hallmark.dev/v1alpha1
//	kind: TenancyPolicy
//	definitionSources:
//	  - name: catalog
//	    bundle: registry.example.com/tekton/catalog
//	sourceFetchers:
//	  - definitionSource: catalog
//	    entryPoint: git-clone
//	tenants:
//	  - name: team-a
//	    namespaces: [team-a]
//	    sources: ["github.com/team-a/*"]
//	    maxLevel: 3
//
// The package only decides; internal/tekton applies the decisions to a
// run and internal/factory reads the policy and refuses or signs. See
// kubernetes/README.md for the whole format and what a factory L3 needs.
package tenancy
