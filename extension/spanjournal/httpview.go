package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/pdata/pcommon"
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
	if err := json.NewEncoder(w).Encode(e.journal.view(limit, e.recovery.At, func(d time.Duration) {
		e.telemetry.SpanjournalViewLockDuration.Record(r.Context(), d.Seconds())
	})); err != nil {
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

// view lists up to limit open spans, oldest first (by start, then trace and span id).
// recoveredAt is when the journal was replayed (Recovery.At).
//
// It reads the open spans' heap (openHeap in openindex.go) under one hold of the
// journal lock: only the limit oldest open spans and about as many of their neighbours
// are visited, never the other open spans nor the ended spans held with them, so the
// view costs O(limit log limit) whatever is held. Each row is copied under the lock and
// formatted outside it. observe, if not nil, gets how long the lock was held.
func (j *Journal) view(limit int, recoveredAt time.Time, observe func(held time.Duration)) View {
	// Allocated before the lock: under a large heap an allocation can be made to help
	// the garbage collector, which would stretch the hold.
	rows := make([]viewRow, 0, min(limit, viewPrealloc))
	frontier := make([]int, 0, min(2*limit+1, 2*viewPrealloc+1))
	j.mu.Lock()
	start := time.Now() // the hold, not the wait for the lock (a tick may hold it)
	v := View{
		HeldSpans:   j.st.heldSpans,
		HeldTraces:  len(j.st.traces),
		TotalOpen:   j.st.openSpans,
		Released:    j.st.releasedSpans,
		RecoveredAt: recoveredAt.UTC(),
	}
	j.st.idx.oldest.oldestK(limit, frontier, func(s *Span) {
		rows = append(rows, viewRow{start: s.start, lastSeen: s.lastSeen, trace: s.TraceID, span: s.SpanID, name: s.Name, origin: s.origin, seq: s.SnapshotSeq})
	})
	held := time.Since(start)
	j.mu.Unlock()
	if observe != nil {
		observe(held)
	}
	v.OpenSpans = make([]OpenSpanView, len(rows))
	for i := range rows {
		v.OpenSpans[i] = rows[i].view()
	}
	v.Truncated = v.TotalOpen > len(rows)
	return v
}

// viewPrealloc is how many rows the view allocates room for before taking the lock
// (the default limit; a larger limit grows them under it).
const viewPrealloc = defaultViewLimit

// viewRow is what the view copies of an open span under the lock: a Span may change
// (SnapshotSeq) once the lock is let go. origin is never changed, only replaced.
type viewRow struct {
	start, lastSeen int64
	trace           pcommon.TraceID
	span            pcommon.SpanID
	name            string
	origin          *Origin
	seq             uint32
}

func (r *viewRow) view() OpenSpanView {
	s := Span{TraceID: r.trace, SpanID: r.span, Name: r.name, origin: r.origin, start: r.start, lastSeen: r.lastSeen}
	return OpenSpanView{
		TraceID: s.TraceID.String(), SpanID: s.SpanID.String(), Name: s.Name,
		Service: s.Service(), SessionID: s.SessionID(), OpenSince: s.Start().UTC(),
		LastSeen: s.LastSeen().UTC(), Source: s.Source(), Snapshots: r.seq,
	}
}
