package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

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
	if err := json.NewEncoder(w).Encode(e.journal.view(limit)); err != nil {
		e.set.Logger.Debug("Writing the open-span view failed", zap.Error(err))
	}
}
