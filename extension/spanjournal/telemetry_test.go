package spanjournal

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal/internal/metadatatest"
)

// histogramPoint is the single data point of the histogram called name.
func histogramPoint[N int64 | float64](t *testing.T, tel *componenttest.Telemetry, name string) metricdata.HistogramDataPoint[N] {
	t.Helper()
	m, err := tel.GetMetric(name)
	require.NoError(t, err)
	h, ok := m.Data.(metricdata.Histogram[N])
	require.Truef(t, ok, "%s is a %T", name, m.Data)
	require.Len(t, h.DataPoints, 1)
	return h.DataPoints[0]
}

// TestCommitTelemetry: every group commit records its journal updates (requests per
// fsync) and, with a min_sync_interval, how long it was held back: the first at once,
// none longer than the interval.
func TestCommitTelemetry(t *testing.T) {
	for _, interval := range []time.Duration{5 * time.Millisecond, 0} {
		t.Run(interval.String(), func(t *testing.T) {
			tel := componenttest.NewTelemetry()
			t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
			cfg := createDefaultConfig().(*Config)
			cfg.Directory = t.TempDir()
			cfg.MinSyncInterval = interval
			ext, err := NewFactory().Create(context.Background(), metadatatest.NewSettings(tel), cfg)
			require.NoError(t, err)
			require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
			e := ext.(*journalExtension)
			for i := range byte(3) {
				update(t, e, func(tx *Tx) { tx.Put(testSpan(1, i+1, SpanOpen), t0) })
			}
			// The journal reports a batch after releasing its callers: once shut down,
			// every report is in.
			require.NoError(t, e.Shutdown(context.Background()))
			updates := histogramPoint[int64](t, tel, "otelcol_spanjournal_batch_updates")
			assert.Equal(t, histogramPoint[int64](t, tel, "otelcol_spanjournal_batch_records").Count, updates.Count, "one point per batch")
			assert.Equal(t, uint64(3), updates.Count, "three batches")
			assert.Equal(t, int64(3), updates.Sum, "one update each")
			if interval == 0 {
				_, err := tel.GetMetric("otelcol_spanjournal_sync_interval_wait")
				assert.Error(t, err, "not recorded without a min_sync_interval")
			} else {
				p := histogramPoint[float64](t, tel, "otelcol_spanjournal_sync_interval_wait")
				assert.Equal(t, updates.Count, p.Count, "one point per batch")
				lo, _ := p.Min.Value()
				hi, _ := p.Max.Value()
				assert.Zero(t, lo, "the first batch is written at once")
				// The wal tests check the hold itself on a fake clock; here the timer may
				// wake late on a busy machine.
				assert.LessOrEqual(t, hi, (interval + 100*time.Millisecond).Seconds(), "a batch is held about the interval at most")
			}
		})
	}
}
