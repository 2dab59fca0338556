package admission

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// fileCerts serves tls.crt and tls.key from a folder (a Secret that
// cert-manager keeps, mounted), read again whenever they change.
type fileCerts struct {
	dir      string
	interval time.Duration
	log      *slog.Logger
	cur      atomic.Pointer[tls.Certificate]
	last     []byte
}

func newFileCerts(dir string, interval time.Duration, log *slog.Logger) (*fileCerts, error) {
	f := &fileCerts{dir: dir, interval: interval, log: log}
	if err := f.load(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *fileCerts) load() error {
	crt, err := os.ReadFile(filepath.Join(f.dir, corev1.TLSCertKey))
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	key, err := os.ReadFile(filepath.Join(f.dir, corev1.TLSPrivateKeyKey))
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	both := append(slices.Clone(crt), key...)
	if bytes.Equal(both, f.last) {
		return nil
	}
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		return fmt.Errorf("serving certificate in %s: %w", f.dir, err)
	}
	f.cur.Store(&pair)
	f.last = both
	f.log.Info("serving certificate loaded", "dir", f.dir, "not_after", pair.Leaf.NotAfter)
	return nil
}

func (f *fileCerts) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := f.cur.Load(); c != nil {
		return c, nil
	}
	return nil, errNoCertificate
}

func (f *fileCerts) ready() bool { return f.cur.Load() != nil }

func (f *fileCerts) run(ctx context.Context) {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := f.load(); err != nil {
				// Keep serving the last good pair: a half-written update
				// is read again at the next tick.
				f.log.Error("reloading the serving certificate", "error", err.Error())
			}
		}
	}
}
