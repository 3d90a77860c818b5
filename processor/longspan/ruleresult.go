package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"context"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
)

// ruleResult is what one run of the rules did (engine.Result).
type ruleResult = engine.Result

// count adds a run's counts, and the drops classify made before it, to the
// processor's telemetry.
func (p *longspanProcessor) count(ctx context.Context, drops map[string]int, res ruleResult) {
	for reason, n := range drops {
		p.telemetry.LongspanSpansDropped.Add(ctx, int64(n), withReason(reason))
	}
	for reason, n := range res.Dropped {
		p.telemetry.LongspanSpansDropped.Add(ctx, int64(n), withReason(reason))
	}
	for outcome, n := range res.Received {
		p.telemetry.LongspanSpansReceived.Add(ctx, int64(n), withReason(outcome))
	}
	for reason, n := range res.Reconciled {
		p.telemetry.LongspanSpansReconciled.Add(ctx, int64(n), withReason(reason))
	}
	if n := res.Received[engine.OutcomeSuperseding]; n > 0 {
		p.telemetry.LongspanSpansSuperseding.Add(ctx, int64(n))
	}
	for reason, n := range res.ClockSuspect {
		p.telemetry.LongspanSpansClockSuspect.Add(ctx, int64(n), withReason(reason))
	}
	if res.OffsetMoves > 0 {
		p.telemetry.LongspanClockOffsetMoves.Add(ctx, int64(res.OffsetMoves))
	}
	if res.UntrustedSession > 0 {
		p.telemetry.LongspanSessionRuleUntrusted.Add(ctx, int64(res.UntrustedSession))
	}
}
