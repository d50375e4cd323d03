package banking

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
)

// Metrics are the banking figures operators watch: deliveries by outcome
// and latency, breaker state, queue depth and age, events by outcome.
type Metrics struct {
	deliveries *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	breakers   *prometheus.GaugeVec
	events     *prometheus.CounterVec
}

// NewMetrics registers the banking metrics on reg; the queue figures are
// read from db when scraped.
func NewMetrics(reg prometheus.Registerer, db *sqlx.DB) *Metrics {
	m := &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "procfin_bank_deliveries_total",
			Help: "Delivery attempts to banks by outcome (delivered, refused, conflict, retry, dead, no_consent)."}, []string{"bank", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "procfin_bank_delivery_seconds",
			Help: "Delivery attempt latency by bank.", Buckets: prometheus.DefBuckets}, []string{"bank"}),
		breakers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "procfin_bank_breaker_state",
			Help: "Circuit breaker state per bank: 0 closed, 1 half-open, 2 open."}, []string{"bank"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "procfin_bank_events_total",
			Help: "Bank events by bank, type and outcome."}, []string{"bank", "type", "outcome"}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.deliveries, m.latency, m.breakers, m.events)
	if db != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "procfin_bank_queue_depth",
			Help: "Deliveries waiting to be sent."}, func() float64 {
			var n float64
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = db.GetContext(ctx, &n, `SELECT count(*) FROM deliveries WHERE status = 'pending'`)
			return n
		}))
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "procfin_bank_queue_oldest_seconds",
			Help: "Age of the oldest delivery waiting to be sent."}, func() float64 {
			var s float64
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = db.GetContext(ctx, &s, `SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM deliveries WHERE status = 'pending'`)
			return s
		}))
	}
	return m
}

func (m *Metrics) delivery(bank, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(bank, outcome).Inc()
	if d > 0 {
		m.latency.WithLabelValues(bank).Observe(d.Seconds())
	}
}

func (m *Metrics) breaker(bank string, s gobreaker.State) {
	if m == nil {
		return
	}
	m.breakers.WithLabelValues(bank).Set(float64(s))
}

// Event counts one bank event by outcome. A type the protocol does not
// know is counted as "other": the labels stay a bounded set whatever a
// bank sends (bank is the verified sender, outcome an error code).
func (m *Metrics) Event(bank, typ, outcome string) {
	if m == nil {
		return
	}
	if _, known := eventTypes[typ]; !known {
		typ = "other"
	}
	m.events.WithLabelValues(bank, typ, outcome).Inc()
}
