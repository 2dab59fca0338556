package verifier

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Hallmark's factory records, in every statement it signs, who built the
// run and what the controller verified: the run's namespace and service
// account, and its source with whether a trusted fetcher reported it
// (see kubernetes/README.md). A SPIFFE signer's provenance is read through
// that record: the source a verifier compares is the record's, and only a
// verified one; the level is capped by the record's maxLevel; a
// per-tenant signing identity (…/tenant/NAMESPACE) must be the namespace's.

// FactoryRecordKey is the key of the factory's record in
// buildDefinition.internalParameters.
const FactoryRecordKey = "hallmark.dev/factory"

// factoryTenantSegment introduces the namespace in a per-tenant signing
// identity: <controller SPIFFE ID>/tenant/<namespace>.
const factoryTenantSegment = "/tenant/"

// noRecordLevel is the most a SPIFFE signer's provenance without a factory
// record gets: nothing says the run could not influence its claims.
const noRecordLevel = 2

// ErrSourceUnverified: the source is a claim of the run that the factory
// did not verify.
var ErrSourceUnverified = errors.New("source claimed, not verified by the factory")

// ErrTenant: the policy's tenants do not let the run's namespace build it.
var ErrTenant = errors.New("namespace may not build this")

// Tenant is one rule of a factory builder entry: runs of the namespaces
// Namespace matches (a Pattern) may build the Sources (patterns over
// "https://HOST/OWNER/REPO", as --source-uri normalizes them).
type Tenant struct {
	Namespace string   `json:"namespace"`
	Sources   []string `json:"sources"`
}

type compiledTenant struct {
	namespace Pattern
	sources   []Pattern
	src       Tenant
}

func compileTenants(ts []Tenant) ([]compiledTenant, error) {
	var out []compiledTenant
	for i, t := range ts {
		ns, err := ParsePattern(t.Namespace)
		if err != nil || t.Namespace == "" {
			return nil, fmt.Errorf("tenants[%d].namespace %q: want a namespace or a pattern", i, t.Namespace)
		}
		if len(t.Sources) == 0 {
			return nil, fmt.Errorf("tenants[%d]: no sources", i)
		}
		ct := compiledTenant{namespace: ns, src: t}
		for j, s := range t.Sources {
			if !strings.HasPrefix(s, "glob:") && !strings.HasPrefix(s, "regexp:") {
				norm, err := normalizeSource(s)
				if err != nil {
					return nil, fmt.Errorf("tenants[%d].sources[%d]: %w", i, j, err)
				}
				s = norm
			}
			p, err := ParsePattern(s)
			if err != nil {
				return nil, fmt.Errorf("tenants[%d].sources[%d]: %w", i, j, err)
			}
			ct.sources = append(ct.sources, p)
		}
		out = append(out, ct)
	}
	return out, nil
}

// factoryRecord is the factory's record, as verification reads it.
type factoryRecord struct {
	Namespace, ServiceAccount, RunKind, RunName, RunUID string
	// Source is the run's source, nil when it recorded none.
	Source *factorySource
	// MaxLevel is the most the controller vouches for.
	MaxLevel int
}

type factorySource struct {
	// URI is the normalized repository ("https://HOST/OWNER/REPO"), or
	// the claim as written when it does not normalize.
	URI      string
	Verified bool
	Reason   string
}

// readFactoryRecord reads the record of a SPIFFE signer's provenance; nil
// when the statement has none. A record of the wrong shape is an error.
func readFactoryRecord(st *statement) (*factoryRecord, error) {
	if st.v1 == nil {
		return nil, nil
	}
	raw, ok := st.v1.BuildDefinition.InternalParameters[FactoryRecordKey]
	if !ok {
		return nil, nil
	}
	r := &reader{}
	path := "predicate.buildDefinition.internalParameters." + FactoryRecordKey
	o := r.asObject(raw, path)
	rec := &factoryRecord{
		Namespace: r.str(o, path, "namespace"), ServiceAccount: r.str(o, path, "serviceAccount"),
		RunKind: r.str(o, path, "runKind"), RunName: r.str(o, path, "runName"), RunUID: r.str(o, path, "runUID"),
	}
	r.require(rec.Namespace, path+".namespace")
	level, ok := o["maxLevel"].(json.Number)
	n, err := level.Int64()
	if !ok || err != nil || n < 0 || n > 3 {
		r.fail(path+".maxLevel", "a level from 0 to 3")
	}
	rec.MaxLevel = int(n)
	if src := r.obj(o, path, "source"); src != nil {
		sp := path + ".source"
		fs := &factorySource{URI: r.str(src, sp, "uri"), Reason: r.str(src, sp, "reason")}
		v, ok := src["verified"].(bool)
		if !ok {
			r.fail(sp+".verified", "a boolean")
		}
		fs.Verified = v
		if uri, _, _ := strings.Cut(strings.TrimPrefix(fs.URI, "git+"), "@"); strings.HasPrefix(uri, "https://") {
			if norm, err := normalizeSource(strings.TrimSuffix(uri, ".git")); err == nil {
				fs.URI = norm
			}
		}
		rec.Source = fs
	}
	if r.err != nil {
		return nil, r.err
	}
	return rec, nil
}

// checkFactoryClaims cross-checks a SPIFFE signer's factory record with
// its identity: a per-tenant signing identity names the namespace the
// record must say built the run.
func (r *run) checkFactoryClaims() error {
	rec, err := readFactoryRecord(r.st)
	if err != nil {
		return fail(CheckStatement, "a factory record of the documented shape", "one that is not", err)
	}
	r.factory = rec
	id := r.signer.id.Path()
	i := strings.LastIndex(id, factoryTenantSegment)
	if i < 0 {
		return nil
	}
	tenant := id[i+len(factoryTenantSegment):]
	if strings.Contains(tenant, "/") {
		return nil
	}
	if rec == nil || rec.Namespace != tenant {
		got := "no factory record"
		if rec != nil {
			got = "namespace " + rec.Namespace
		}
		return mismatch("the namespace of tenant signer "+r.signer.id.String(), tenant, got)
	}
	return nil
}

// factoryLevel caps a SPIFFE signer's level by its factory record.
func (r *run) factoryLevel(level int) (int, string) {
	if r.factory == nil {
		return min(level, noRecordLevel), "the provenance carries no factory record"
	}
	if r.factory.MaxLevel < level {
		why := "the factory vouches for no more for this run"
		if s := r.factory.Source; s != nil && !s.Verified {
			why += " (its source is not verified: " + s.Reason + ")"
		}
		return r.factory.MaxLevel, why
	}
	return level, ""
}

// checkFactorySource checks a SPIFFE signer's source: the factory's
// verified record of it, and the tenants of the builder entry that trusted
// the signer.
func (r *run) checkFactorySource() error {
	want := r.c.policy.compiled.source
	rec := r.factory
	if want != "" {
		switch {
		case rec == nil || rec.Source == nil:
			return fail(CheckSource, want, "no source recorded by the factory", ErrSourceMismatch)
		case !rec.Source.Verified:
			return fail(CheckSource, want, rec.Source.URI+", claimed by a run of namespace "+rec.Namespace+" and not verified by the factory ("+rec.Source.Reason+")", ErrSourceUnverified)
		case rec.Source.URI != want:
			return fail(CheckSource, want, rec.Source.URI+" (namespace "+rec.Namespace+")", ErrSourceMismatch)
		}
	}
	tenants := r.entry.tenants
	if len(tenants) == 0 {
		return nil
	}
	if rec == nil {
		return fail(CheckSource, "a factory record naming the run's namespace", "none", ErrTenant)
	}
	for _, t := range tenants {
		if !t.namespace.Match(rec.Namespace) {
			continue
		}
		if rec.Source == nil || !rec.Source.Verified {
			return nil
		}
		for _, s := range t.sources {
			if s.Match(rec.Source.URI) {
				return nil
			}
		}
		return fail(CheckSource, "a source namespace "+rec.Namespace+" may build ("+strings.Join(t.src.Sources, ", ")+")", rec.Source.URI, ErrTenant)
	}
	return fail(CheckSource, "a namespace the builder's tenants list", "namespace "+rec.Namespace, ErrTenant)
}
