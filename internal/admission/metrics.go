package admission

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the controller's Prometheus metrics, in a registry of its
// own (served at /metrics on the operations address).
type metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	verdicts     *prometheus.CounterVec
	cache        *prometheus.CounterVec
	verifyTime   prometheus.Histogram
	cacheEntries prometheus.GaugeFunc
	policies     *prometheus.GaugeVec
}

// latencyBuckets run from half a millisecond to the webhook's timeout.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func newMetrics(cacheLen func() int) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hallmark_admission_requests_total",
			Help: "Admission requests answered, by webhook (mutate, validate, validate-policy), operation and whether they were allowed.",
		}, []string{"webhook", "operation", "allowed"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hallmark_admission_request_duration_seconds",
			Help:    "Time from reading an AdmissionReview to writing the answer, by webhook.",
			Buckets: latencyBuckets,
		}, []string{"webhook"}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hallmark_admission_verdicts_total",
			Help: "Images judged under a policy, by mode, outcome (pass, fail) and the check that failed.",
		}, []string{"mode", "outcome", "check"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hallmark_admission_cache_lookups_total",
			Help: "Verdict lookups: hit (kept), miss (verified now) or shared (joined a verification under way).",
		}, []string{"result"}),
		verifyTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hallmark_admission_verification_duration_seconds",
			Help:    "Time to verify one image under one policy: registry lookups and verification, on a cache miss.",
			Buckets: latencyBuckets,
		}),
		policies: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hallmark_admission_policies",
			Help: "ImagePolicies loaded, by whether they build (ready) or deny everything they govern (invalid).",
		}, []string{"state"}),
	}
	m.cacheEntries = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hallmark_admission_cache_entries",
		Help: "Verdicts kept in the cache.",
	}, func() float64 { return float64(cacheLen()) })
	m.registry.MustRegister(m.requests, m.latency, m.verdicts, m.cache, m.verifyTime, m.cacheEntries, m.policies,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) request(webhook, op string, allowed bool, took time.Duration) {
	m.requests.WithLabelValues(webhook, op, strconv.FormatBool(allowed)).Inc()
	m.latency.WithLabelValues(webhook).Observe(took.Seconds())
}

func (m *metrics) verdict(j judgement) {
	outcome, check := "pass", ""
	if j.failed() {
		outcome, check = "fail", j.result.Failure.Check
	}
	m.verdicts.WithLabelValues(string(j.mode), outcome, check).Inc()
}

func (m *metrics) lookup(l lookup) { m.cache.WithLabelValues(string(l)).Inc() }

func (m *metrics) verification(took time.Duration) { m.verifyTime.Observe(took.Seconds()) }

func (m *metrics) policyStates(ready, invalid int) {
	m.policies.WithLabelValues("ready").Set(float64(ready))
	m.policies.WithLabelValues("invalid").Set(float64(invalid))
}
