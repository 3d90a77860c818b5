package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"bytes"
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
// It reads the open-span index (openindex.go) one shard at a time, taking the journal
// lock once per shard: a hold visits only the open spans of 1/OpenShards of the traces,
// never the ended spans held with them, so a view at 10 M held spans delays ingestion by
// microseconds per hold, not by a walk of everything held. The oldest limit are kept in a
// bounded heap (O(open × log limit), no sort of every open span); only those are turned
// into rows, outside the lock. The rows are therefore not one instant's state: a span
// opened or closed while the view runs may be missing or listed. The totals are read
// under the first hold. observe, if not nil, gets the longest single hold.
func (j *Journal) view(limit int, recoveredAt time.Time, observe func(longestHold time.Duration)) View {
	var longest time.Duration
	hold := func(start time.Time) {
		if d := time.Since(start); d > longest {
			longest = d
		}
	}
	start := time.Now()
	j.mu.Lock()
	v := View{
		HeldSpans:   j.st.heldSpans,
		HeldTraces:  len(j.st.traces),
		TotalOpen:   j.st.openSpans,
		Released:    j.st.releasedSpans,
		RecoveredAt: recoveredAt.UTC(),
	}
	j.mu.Unlock()
	hold(start)
	oldest := viewHeap{limit: limit}
	seen := 0
	for sh := range OpenShards {
		start := time.Now()
		j.mu.Lock()
		for _, t := range j.st.idx.openTraces[sh] {
			for _, s := range t.open {
				seen++
				oldest.offer(s)
			}
		}
		j.mu.Unlock()
		hold(start)
	}
	rows := oldest.sorted()
	v.OpenSpans = make([]OpenSpanView, len(rows))
	for i, r := range rows {
		v.OpenSpans[i] = r.view()
	}
	v.Truncated = seen > len(rows)
	if observe != nil {
		observe(longest)
	}
	return v
}

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

// older orders rows by start, then trace id, then span id (the view's order).
func (r *viewRow) older(o *viewRow) bool {
	if r.start != o.start {
		return r.start < o.start
	}
	if c := bytes.Compare(r.trace[:], o.trace[:]); c != 0 {
		return c < 0
	}
	return bytes.Compare(r.span[:], o.span[:]) < 0
}

// viewHeap keeps the limit oldest rows offered: a max-heap by age, whose top (the
// youngest kept) is replaced when an older row comes.
type viewHeap struct {
	limit int
	rows  []viewRow
}

func (h *viewHeap) offer(s *Span) {
	if len(h.rows) == h.limit && s.start > h.rows[0].start {
		return // younger than every row kept: the common case costs one comparison
	}
	r := viewRow{start: s.start, lastSeen: s.lastSeen, trace: s.TraceID, span: s.SpanID, name: s.Name, origin: s.origin, seq: s.SnapshotSeq}
	if len(h.rows) < h.limit {
		h.rows = append(h.rows, r)
		h.up(len(h.rows) - 1)
		return
	}
	if !r.older(&h.rows[0]) {
		return
	}
	h.rows[0] = r
	h.down(0)
}

func (h *viewHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.rows[p].older(&h.rows[i]) {
			return
		}
		h.rows[p], h.rows[i] = h.rows[i], h.rows[p]
		i = p
	}
}

func (h *viewHeap) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(h.rows) {
			return
		}
		if c+1 < len(h.rows) && h.rows[c].older(&h.rows[c+1]) {
			c++
		}
		if !h.rows[i].older(&h.rows[c]) {
			return
		}
		h.rows[i], h.rows[c] = h.rows[c], h.rows[i]
		i = c
	}
}

// sorted returns the rows kept, oldest first.
func (h *viewHeap) sorted() []viewRow {
	sort.Slice(h.rows, func(a, b int) bool { return h.rows[a].older(&h.rows[b]) })
	return h.rows
}
