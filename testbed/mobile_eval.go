package testbed

import (
	"fmt"
	"strings"
	"time"
)

// MobileFigures is what the mobile scenario measured (latest.json "mobile").
type MobileFigures struct {
	Sessions         int                `json:"sessions"`
	SessionsByLife   map[MobileLife]int `json:"sessions_by_life"`
	SessionsFailed   int                `json:"sessions_with_failed_sends"`
	AckedSpans       int                `json:"acked_spans"`
	MissingAcked     int                `json:"missing_acked_spans"`
	FalseReconciled  int                `json:"false_reconciliations"`
	FalseExamples    []string           `json:"false_reconciliation_examples,omitempty"`
	DroppedForClock  int                `json:"spans_dropped_for_clock"`
	DurationErrP99   float64            `json:"duration_error_p99_s"`
	DurationErrMax   float64            `json:"duration_error_max_s"`
	DurationChecked  int                `json:"duration_checked_spans"`
	DurationExamples []string           `json:"duration_error_examples,omitempty"`
	// DurationErrTrueClock is the p99 over the sessions whose clock is right (Embrace
	// Apple's copies apart): what is left when no clock is off.
	DurationErrTrueClock float64  `json:"duration_error_p99_s_true_clock"`
	EmbraceCopiesOut     int      `json:"embrace_copies_out"`
	EmbraceCopiesEx      []string `json:"embrace_copies_out_examples,omitempty"`
	TerminatedP99        float64  `json:"terminated_closed_p99_s"`
	TerminatedOpen       int      `json:"terminated_not_closed"`
	TerminatedOpenEx     []string `json:"terminated_not_closed_examples,omitempty"`
	// MissingByClock counts the acknowledged spans missing at the backend by their
	// client's clock offset.
	MissingByClock  map[string]int `json:"missing_acked_spans_by_clock_offset,omitempty"`
	KeptTraces      int            `json:"kept_traces"`
	KeptCompletePct float64        `json:"kept_traces_complete_pct"`
	Reconciled      map[string]int `json:"reconciled_by_reason"`
	Superseding     int            `json:"superseding"`
}

// mobileLimits are the collector's silence limits the evaluation judges against.
type mobileLimits struct {
	Idle, Background, DecisionWait time.Duration
}

// examples keeps the first few lines of a kind.
func addExample(list *[]string, format string, args ...any) {
	if len(*list) < 8 {
		*list = append(*list, fmt.Sprintf(format, args...))
	}
}

// EvaluateMobile reads the backend's records against the sessions. Every duration is
// judged in the client's own clock: a reconciled span should end at the client time of
// the last report the collector had (or the next launch's last_seen), an ended one where
// its client ended it.
func EvaluateMobile(sessions []*MobileSession, recs []Rec, lim mobileLimits) MobileFigures {
	f := MobileFigures{Sessions: len(sessions), SessionsByLife: map[MobileLife]int{}, Reconciled: map[string]int{}}
	byKey := map[SpanKey][]Rec{}
	for _, r := range recs {
		byKey[r.Key] = append(byKey[r.Key], r)
	}
	var durErr, durTrue, termDelay []time.Duration
	keptTraces, completeTraces := 0, 0
	for _, s := range sessions {
		f.SessionsByLife[s.Life]++
		if s.Failed > 0 {
			f.SessionsFailed++
		}
		falseHere := false
		traceComplete := map[[16]byte]bool{}
		for _, sp := range s.Spans {
			var t [16]byte
			copy(t[:], sp.Key[:16])
			if _, ok := traceComplete[t]; !ok {
				traceComplete[t] = true
			}
			out := 0
			for _, r := range byKey[sp.Key] {
				if r.State == StateSnapshot {
					continue
				}
				out++
				if r.State == StateSuperseding {
					f.Superseding++
				}
				want, ok := sp.expectedEnd(r)
				if ok {
					e := time.Duration(r.End - r.Start - (want - sp.StartNano)).Abs()
					durErr = append(durErr, e)
					if s.Offset == 0 && s.Life != LifeEmbraceApple {
						durTrue = append(durTrue, e)
					}
					if e > 2*time.Second {
						addExample(&f.DurationExamples, "session %d (%s, clock %v): %s span lasted %.1fs, its client %.1fs",
							s.Idx, s.Life, s.Offset, stateName(r.State), float64(r.End-r.Start)/1e9, float64(want-sp.StartNano)/1e9)
					}
				}
				if r.State != StateReconciled {
					continue
				}
				reason := reasonNames[r.Reason]
				f.Reconciled[reason]++
				if why := sp.falseReconciliation(s.Life, r, lim); why != "" {
					falseHere = true
					addExample(&f.FalseExamples, "session %d (%s, clock %v): %s", s.Idx, s.Life, s.Offset, why)
				}
				if sp.Terminated != nil && reason == "client_interrupted" {
					d := time.Duration(r.Recv-sp.Terminated.Ack.UnixNano()) - lim.DecisionWait
					termDelay = append(termDelay, max(d, 0))
				}
			}
			if out == 0 {
				traceComplete[t] = false
			}
			if s.Life == LifeEmbraceApple && out > 1 {
				f.EmbraceCopiesOut++
				addExample(&f.EmbraceCopiesEx, "session %d (clock %v): %v", s.Idx, s.Offset, recStates(byKey[sp.Key]))
			}
			if sp.Terminated != nil && !sp.closedBy(byKey[sp.Key], "client_interrupted") {
				f.TerminatedOpen++
				addExample(&f.TerminatedOpenEx, "session %d (clock %v): %v", s.Idx, s.Offset, recStates(byKey[sp.Key]))
			}
		}
		if falseHere {
			f.FalseReconciled++
		}
		for t, complete := range traceComplete {
			if keptAny(byKey, s, t) {
				keptTraces++
				if complete {
					completeTraces++
				}
			}
		}
	}
	f.DurationChecked = len(durErr)
	f.DurationErrP99, f.DurationErrMax = round3(quantile(durErr, 0.99).Seconds()), round3(quantile(durErr, 1).Seconds())
	f.DurationErrTrueClock = round3(quantile(durTrue, 0.99).Seconds())
	f.TerminatedP99 = round3(quantile(termDelay, 0.99).Seconds())
	f.KeptTraces = keptTraces
	f.KeptCompletePct = round1(pct(completeTraces, keptTraces))
	return f
}

// keptAny says whether any span of trace t of s reached the backend as a finished span.
func keptAny(byKey map[SpanKey][]Rec, s *MobileSession, t [16]byte) bool {
	for _, sp := range s.Spans {
		if [16]byte(sp.Key[:16]) != t {
			continue
		}
		for _, r := range byKey[sp.Key] {
			if r.State != StateSnapshot {
				return true
			}
		}
	}
	return false
}

// recStates lists the non-snapshot states (and reasons) of recs, in order.
func recStates(recs []Rec) []string {
	var out []string
	for _, r := range recs {
		if r.State != StateSnapshot {
			out = append(out, strings.TrimSuffix(stateName(r.State)+" "+reasonNames[r.Reason], " "))
		}
	}
	return out
}

// missingByClock counts missing span keys by their session's clock offset.
func missingByClock(sessions []*MobileSession, missing []SpanKey) map[string]int {
	offset := map[SpanKey]time.Duration{}
	for _, s := range sessions {
		for _, sp := range s.Spans {
			offset[sp.Key] = s.Offset
		}
	}
	out := map[string]int{}
	for _, k := range missing {
		out[offset[k].String()]++
	}
	return out
}

func stateName(st uint8) string {
	for n, c := range stateNames {
		if c == st {
			if n == "" {
				return "plain"
			}
			return n
		}
	}
	return "other"
}

// lastReportBefore is the last report of sp acknowledged before t: what the collector
// had when it reconciled.
func (sp *mobileSpan) lastReportBefore(t int64) *mobileReport {
	var last *mobileReport
	for i := range sp.Reports {
		if sp.Reports[i].Ack.UnixNano() <= t {
			last = &sp.Reports[i]
		}
	}
	return last
}

// expectedEnd is the end, in the client's clock, record r of sp should carry: a
// reconciled one the last thing the collector knew of it; an ended one the client's end,
// or for a copy of a span never ended (Embrace Apple's session span) its last copy's.
func (sp *mobileSpan) expectedEnd(r Rec) (int64, bool) {
	if r.State == StateReconciled {
		if sp.Terminated != nil && reasonNames[r.Reason] == "client_interrupted" {
			return sp.LastSeen, true
		}
		if last := sp.lastReportBefore(r.Recv); last != nil {
			return last.ClientNano, true
		}
		return 0, false
	}
	if sp.EndNano != 0 {
		return sp.EndNano, true
	}
	if n := len(sp.Reports); n > 0 {
		return sp.Reports[n-1].ClientNano, true
	}
	return 0, false
}

// falseReconciliation says why reconciling r was wrong, or "": the app was alive (it
// resumed within the background limit, or never left), no app lives a week, and no
// span may be reconciled while its client is within its silence limit.
func (sp *mobileSpan) falseReconciliation(life MobileLife, r Rec, lim mobileLimits) string {
	reason := reasonNames[r.Reason]
	if !mobileReconciles(life) {
		return fmt.Sprintf("reconciled %s, but the app was alive", reason)
	}
	if reason == "max_duration" {
		return "reconciled max_duration: no session here lasts a week, only its clock is off"
	}
	if sp.Terminated != nil && reason == "client_interrupted" {
		return ""
	}
	last := sp.lastReportBefore(r.Recv)
	if last == nil {
		return fmt.Sprintf("reconciled %s before any report of it was acknowledged", reason)
	}
	limit := lim.Idle
	if last.Hint == "app_background" {
		limit = lim.Background
	}
	early := last.Ack.Add(limit).Sub(time.Unix(0, r.Recv).Add(-lim.DecisionWait))
	if early > 500*time.Millisecond {
		return fmt.Sprintf("reconciled %s %.1fs before its limit (%v after its last report)", reason, early.Seconds(), limit)
	}
	return ""
}

// closedBy says whether recs hold a reconciliation of the span for reason.
func (sp *mobileSpan) closedBy(recs []Rec, reason string) bool {
	for _, r := range recs {
		if r.State == StateReconciled && reasonNames[r.Reason] == reason {
			return true
		}
	}
	return false
}
