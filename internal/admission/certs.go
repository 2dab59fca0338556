package admission

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"slices"
	"sync/atomic"
	"time"

	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// certSource hands the HTTPS server its certificate.
type certSource interface {
	getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ready reports whether a certificate is served (and, when the
	// controller manages its own, the API server trusts its CA).
	ready() bool
	// run keeps the certificate fresh until ctx ends.
	run(ctx context.Context)
}

// errNoCertificate: nothing to serve yet.
var errNoCertificate = errors.New("no serving certificate yet")

// Keys of the Secret the controller keeps its CA and certificate in.
const (
	secretCACerts = "ca.crt" // the CAs the API server is told to trust, PEM
	secretCAKey   = "ca.key" // the current CA's key, PEM
	secretNextCA  = "next-ca.crt"
	secretNextKey = "next-ca.key"
)

// selfCerts is the controller's own CA and serving certificate, kept in a
// Secret that every replica reads (so all serve a certificate of one CA)
// and renewed before they expire; it writes the CAs into its webhook
// configurations' caBundle.
//
// The CA is rotated in two steps so that no request fails: a new CA is
// first added to the bundle the API server trusts, and only once the
// webhook configurations carry it does the serving certificate come from
// it. The old CA stays in the bundle until it expires.
type selfCerts struct {
	api       client.Client
	secret    types.NamespacedName
	hosts     []string
	configs   string // name of the Mutating and ValidatingWebhookConfiguration
	caLife    time.Duration
	certLife  time.Duration
	interval  time.Duration
	now       func() time.Time
	log       *slog.Logger
	cur       atomic.Pointer[tls.Certificate]
	installed atomic.Bool
}

// certState is what the Secret holds, parsed.
type certState struct {
	bundle  []*x509.Certificate // trusted CAs, current first
	ca      *x509.Certificate
	caKey   *ecdsa.PrivateKey
	next    *x509.Certificate
	nextKey *ecdsa.PrivateKey
	leaf    *tls.Certificate
}

func (s *selfCerts) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.cur.Load(); c != nil {
		return c, nil
	}
	return nil, errNoCertificate
}

func (s *selfCerts) ready() bool { return s.cur.Load() != nil && s.installed.Load() }

func (s *selfCerts) run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		if err := s.reconcile(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("keeping the webhook's certificate", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reconcile reads the Secret, renews what is due, writes it back, puts the
// CAs in the webhook configurations and serves the certificate. A
// conflict with another replica's write is left for the next round.
func (s *selfCerts) reconcile(ctx context.Context) error {
	var sec corev1.Secret
	err := s.api.Get(ctx, s.secret, &sec)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading secret %s: %w", s.secret, err)
	}
	now := s.now()
	st, perr := parseCertState(sec.Data)
	if exists && perr != nil {
		s.log.Error("the webhook's certificate secret does not parse: making a new CA", "secret", s.secret.String(), "error", perr.Error())
	}
	changed := false
	if st == nil {
		if st, err = s.fresh(now); err != nil {
			return err
		}
		changed = true
	}
	// CA rotation, step 1: stage the next CA in the bundle.
	if st.next == nil && st.ca.NotAfter.Sub(now) < s.caLife/3 {
		if st.next, st.nextKey, err = newCA(now, s.caLife); err != nil {
			return err
		}
		st.bundle = append(st.bundle, st.next)
		changed = true
		s.log.Info("staging a new webhook CA", "current_not_after", st.ca.NotAfter, "next_not_after", st.next.NotAfter)
	} else if st.next != nil && now.Sub(st.next.NotBefore.Add(backdate)) >= 2*s.interval && s.configsTrust(ctx, st.next) {
		// Step 2: the webhook configurations have carried the next CA for
		// a while (the API server reads them through its own watch); serve
		// from it.
		st.ca, st.caKey, st.next, st.nextKey = st.next, st.nextKey, nil, nil
		st.leaf = nil
		changed = true
		s.log.Info("serving from the new webhook CA", "not_after", st.ca.NotAfter)
	}
	if st.leaf == nil || st.leaf.Leaf.NotAfter.Sub(now) < s.certLife/3 || !s.issuedFor(st) {
		if st.leaf, err = issue(st.ca, st.caKey, s.hosts, now, s.certLife); err != nil {
			return err
		}
		changed = true
	}
	// The bundle keeps the current CA first and drops expired ones.
	bundle := []*x509.Certificate{st.ca}
	for _, c := range st.bundle {
		if !c.Equal(st.ca) && now.Before(c.NotAfter) {
			bundle = append(bundle, c)
		}
	}
	if len(bundle) != len(st.bundle) {
		changed = true
	}
	st.bundle = bundle
	if changed {
		sec.Data = st.encode()
		if exists {
			err = s.api.Update(ctx, &sec)
		} else {
			sec.ObjectMeta = metav1.ObjectMeta{Namespace: s.secret.Namespace, Name: s.secret.Name,
				Labels: map[string]string{"app.kubernetes.io/name": "hallmark-admission"}}
			sec.Type = corev1.SecretTypeTLS
			err = s.api.Create(ctx, &sec)
		}
		if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
			return nil // another replica wrote first: read its write next round
		}
		if err != nil {
			return fmt.Errorf("writing secret %s: %w", s.secret, err)
		}
		s.log.Info("webhook certificate written", "secret", s.secret.String(), "not_after", st.leaf.Leaf.NotAfter, "cas", len(st.bundle))
	}
	if err := s.install(ctx, pemCerts(st.bundle)); err != nil {
		return err
	}
	s.cur.Store(st.leaf)
	return nil
}

// issuedFor reports whether the serving certificate is the current CA's,
// for the configured hosts.
func (s *selfCerts) issuedFor(st *certState) bool {
	if st.leaf.Leaf.CheckSignatureFrom(st.ca) != nil {
		return false
	}
	var have []string
	have = append(have, st.leaf.Leaf.DNSNames...)
	for _, ip := range st.leaf.Leaf.IPAddresses {
		have = append(have, ip.String())
	}
	want := slices.Clone(s.hosts)
	slices.Sort(have)
	slices.Sort(want)
	return slices.Equal(have, want)
}

func (s *selfCerts) fresh(now time.Time) (*certState, error) {
	ca, key, err := newCA(now, s.caLife)
	if err != nil {
		return nil, err
	}
	s.log.Info("making the webhook's CA", "secret", s.secret.String(), "not_after", ca.NotAfter)
	return &certState{bundle: []*x509.Certificate{ca}, ca: ca, caKey: key}, nil
}

// configsTrust reports whether every webhook of both configurations
// carries ca in its caBundle.
func (s *selfCerts) configsTrust(ctx context.Context, ca *x509.Certificate) bool {
	var mw admissionregv1.MutatingWebhookConfiguration
	var vw admissionregv1.ValidatingWebhookConfiguration
	if s.api.Get(ctx, types.NamespacedName{Name: s.configs}, &mw) != nil || s.api.Get(ctx, types.NamespacedName{Name: s.configs}, &vw) != nil {
		return false
	}
	var bundles [][]byte
	for _, w := range mw.Webhooks {
		bundles = append(bundles, w.ClientConfig.CABundle)
	}
	for _, w := range vw.Webhooks {
		bundles = append(bundles, w.ClientConfig.CABundle)
	}
	for _, b := range bundles {
		if !bundleHas(b, ca) {
			return false
		}
	}
	return len(bundles) > 0
}

func bundleHas(b []byte, ca *x509.Certificate) bool {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return false
		}
		if bytes.Equal(block.Bytes, ca.Raw) {
			return true
		}
	}
}

// install writes bundle into the caBundle of every webhook of both
// configurations, where it differs.
func (s *selfCerts) install(ctx context.Context, bundle []byte) error {
	var mw admissionregv1.MutatingWebhookConfiguration
	if err := s.api.Get(ctx, types.NamespacedName{Name: s.configs}, &mw); err != nil {
		return fmt.Errorf("reading MutatingWebhookConfiguration %s: %w", s.configs, err)
	}
	var vw admissionregv1.ValidatingWebhookConfiguration
	if err := s.api.Get(ctx, types.NamespacedName{Name: s.configs}, &vw); err != nil {
		return fmt.Errorf("reading ValidatingWebhookConfiguration %s: %w", s.configs, err)
	}
	mOld, vOld := mw.DeepCopy(), vw.DeepCopy()
	mChanged, vChanged := false, false
	for i := range mw.Webhooks {
		if !bytes.Equal(mw.Webhooks[i].ClientConfig.CABundle, bundle) {
			mw.Webhooks[i].ClientConfig.CABundle, mChanged = bundle, true
		}
	}
	for i := range vw.Webhooks {
		if !bytes.Equal(vw.Webhooks[i].ClientConfig.CABundle, bundle) {
			vw.Webhooks[i].ClientConfig.CABundle, vChanged = bundle, true
		}
	}
	if mChanged {
		if err := s.api.Patch(ctx, &mw, client.MergeFromWithOptions(mOld, client.MergeFromWithOptimisticLock{})); err != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("writing the CA bundle of MutatingWebhookConfiguration %s: %w", s.configs, err)
		}
	}
	if vChanged {
		if err := s.api.Patch(ctx, &vw, client.MergeFromWithOptions(vOld, client.MergeFromWithOptimisticLock{})); err != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("writing the CA bundle of ValidatingWebhookConfiguration %s: %w", s.configs, err)
		}
	}
	if mChanged || vChanged {
		s.log.Info("CA bundle written into the webhook configurations", "name", s.configs)
	}
	s.installed.Store(true)
	return nil
}

func parseCertState(data map[string][]byte) (*certState, error) {
	if len(data) == 0 {
		return nil, nil
	}
	st := &certState{}
	var err error
	if st.bundle, err = parseCerts(data[secretCACerts]); err != nil || len(st.bundle) == 0 {
		return nil, fmt.Errorf("%s: %v", secretCACerts, err)
	}
	st.ca = st.bundle[0]
	if st.caKey, err = parseKey(data[secretCAKey]); err != nil {
		return nil, fmt.Errorf("%s: %w", secretCAKey, err)
	}
	if !st.caKey.PublicKey.Equal(st.ca.PublicKey) {
		return nil, errors.New("the CA key is not the CA's")
	}
	if len(data[secretNextCA]) > 0 {
		next, err := parseCerts(data[secretNextCA])
		if err != nil || len(next) != 1 {
			return nil, fmt.Errorf("%s: %v", secretNextCA, err)
		}
		if st.nextKey, err = parseKey(data[secretNextKey]); err != nil || !st.nextKey.PublicKey.Equal(next[0].PublicKey) {
			return nil, fmt.Errorf("%s does not match %s", secretNextKey, secretNextCA)
		}
		st.next = next[0]
	}
	if leaf, err := tls.X509KeyPair(data[corev1.TLSCertKey], data[corev1.TLSPrivateKeyKey]); err == nil {
		st.leaf = &leaf
	}
	return st, nil
}

func (st *certState) encode() map[string][]byte {
	out := map[string][]byte{
		secretCACerts:           pemCerts(st.bundle),
		secretCAKey:             pemKey(st.caKey),
		corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: st.leaf.Certificate[0]}),
		corev1.TLSPrivateKeyKey: pemKey(st.leaf.PrivateKey.(*ecdsa.PrivateKey)),
	}
	if st.next != nil {
		out[secretNextCA] = pemCerts([]*x509.Certificate{st.next})
		out[secretNextKey] = pemKey(st.nextKey)
	}
	return out
}

func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return out, nil
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

func parseKey(data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM key")
	}
	return x509.ParseECPrivateKey(block.Bytes)
}

func pemCerts(cs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range cs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

func pemKey(k *ecdsa.PrivateKey) []byte {
	der, _ := x509.MarshalECPrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// backdate is how far before now certificates start, for clocks that lag.
const backdate = 5 * time.Minute

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func newCA(now time.Time, life time.Duration) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "hallmark-admission CA " + now.UTC().Format(time.RFC3339)},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(life),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

func issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string, now time.Time, life time.Duration) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(life)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
