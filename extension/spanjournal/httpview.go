package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.uber.org/zap"
)

// defaultViewLimit caps the rows GET /v1/open-spans returns unless ?limit= says more:
// a gateway can hold a million open spans.
const defaultViewLimit = 1000

func (e *journalExtension) startHTTP(ctx context.Context, host component.Host, cfg *confighttp.ServerConfig) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/open-spans", e.serveOpenSpans)
	ln, err := cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("spanjournal: http: listening on %q: %w", cfg.NetAddr.Endpoint, err)
	}
	e.server, err = cfg.ToServer(ctx, host.GetExtensions(), e.set.TelemetrySettings, mux)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("spanjournal: http: %w", err)
	}
	go func() {
		if err := e.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	e.set.Logger.Info("Serving the open-span view", zap.String("url", "http://"+ln.Addr().String()+"/v1/open-spans"))
	return nil
}

func (e *journalExtension) serveOpenSpans(w http.ResponseWriter, r *http.Request) {
	limit := defaultViewLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			http.Error(w, "limit must be a positive integer", http.StatusBadRequest)
			return
		}
		limit = n
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(e.journal.view(limit, e.recovery.At)); err != nil {
		e.set.Logger.Debug("Writing the open-span view failed", zap.Error(err))
	}
}

// OpenSpanView is one row of the read-only view of open spans.
type OpenSpanView struct {
	TraceID   string    `json:"trace_id"`
	SpanID    string    `json:"span_id"`
	Name      string    `json:"name"`
	Service   string    `json:"service"`
	SessionID string    `json:"session_id"`
	OpenSince time.Time `json:"open_since"`
	LastSeen  time.Time `json:"last_seen"`
	Source    string    `json:"source"`
	Snapshots uint32    `json:"snapshots"`
}

// View is the answer of GET /v1/open-spans.
type View struct {
	OpenSpans   []OpenSpanView `json:"open_spans"`
	HeldSpans   int            `json:"held_spans"`
	HeldTraces  int            `json:"held_traces"`
	Truncated   bool           `json:"truncated,omitempty"`
	TotalOpen   int            `json:"total_open"`
	Released    int            `json:"released_spans"`
	RecoveredAt time.Time      `json:"recovered_at"`
}

// view lists up to limit open spans, oldest first. recoveredAt is when the journal
// was replayed (Recovery.At).
func (j *Journal) view(limit int, recoveredAt time.Time) View {
	j.mu.Lock()
	v := View{
		HeldSpans:   j.st.heldSpans,
		HeldTraces:  len(j.st.traces),
		TotalOpen:   j.st.openSpans,
		Released:    j.st.releasedSpans,
		RecoveredAt: recoveredAt.UTC(),
		OpenSpans:   make([]OpenSpanView, 0, j.st.openSpans),
	}
	for _, t := range j.st.traces {
		for _, s := range t.Spans {
			if s.State == SpanOpen {
				v.OpenSpans = append(v.OpenSpans, OpenSpanView{
					TraceID: s.TraceID.String(), SpanID: s.SpanID.String(), Name: s.Name,
					Service: s.Service(), SessionID: s.SessionID(), OpenSince: s.Start().UTC(),
					LastSeen: s.LastSeen().UTC(), Source: s.Source(), Snapshots: s.SnapshotSeq,
				})
			}
		}
	}
	j.mu.Unlock()
	sort.Slice(v.OpenSpans, func(a, b int) bool { return v.OpenSpans[a].OpenSince.Before(v.OpenSpans[b].OpenSince) })
	if len(v.OpenSpans) > limit {
		v.OpenSpans, v.Truncated = v.OpenSpans[:limit], true
	}
	return v
}
