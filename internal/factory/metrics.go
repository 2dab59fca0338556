package factory

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Prometheus metrics, served with controller-runtime's own at /metrics.
var (
	runsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hallmark_factory_runs_total",
		Help: "Runs the controller finished with, by kind and outcome (signed, skipped, failed).",
	}, []string{"kind", "outcome"})
	retriesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hallmark_factory_retries_total",
		Help: "Failed signing attempts that will be retried, by kind.",
	}, []string{"kind"})
	signDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hallmark_factory_sign_duration_seconds",
		Help:    "Time from reading a completed run to its signed bundle being stored.",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 10),
	}, []string{"kind"})
	signingLimitGauge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hallmark_factory_signing_limit",
		Help: "How many runs the controller signs at once now: between --min-workers and --workers, chosen from the signer's latency.",
	})
)

func init() {
	metrics.Registry.MustRegister(runsTotal, retriesTotal, signDuration, signingLimitGauge)
}
