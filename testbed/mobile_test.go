package testbed

import (
	"testing"
	"time"
)

// TestEvaluateMobile judges hand-made backend records against hand-made sessions: each
// rule of the mobile figures, both ways.
func TestEvaluateMobile(t *testing.T) {
	lim := mobileLimits{Idle: 3 * time.Second, Background: 9 * time.Second, DecisionWait: time.Second}
	t0 := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	key := func(trace, span byte) SpanKey {
		var k SpanKey
		k[0], k[16] = trace, span
		return k
	}
	rec := func(k SpanKey, state uint8, reason string, recv time.Time, start, end int64) Rec {
		return Rec{Key: k, State: state, Reason: reasonCode(reason), Recv: recv.UnixNano(), Start: start, End: end}
	}
	slow := -8 * 24 * time.Hour
	start := at(0).UnixNano()

	// foreground, right clock: a snapshot, then its end as the client sent it.
	fg := &mobileSpan{Key: key(1, 1), StartNano: start, EndNano: at(4 * time.Second).UnixNano(),
		Reports: []mobileReport{{Ack: at(0), ClientNano: start}}}
	// killed in the background: reconciled after background_timeout, at the hint's time.
	hint := mobileReport{Ack: at(2 * time.Second), ClientNano: at(2 * time.Second).UnixNano(), Hint: "app_background"}
	killed := &mobileSpan{Key: key(2, 1), StartNano: start, Reports: []mobileReport{{Ack: at(0), ClientNano: start}, hint}}
	// killed too, but reconciled after idle_timeout: the background limit was not kept.
	early := &mobileSpan{Key: key(3, 1), StartNano: start, Reports: []mobileReport{{Ack: at(0), ClientNano: start}, hint}}
	// 8 days slow, alive: reconciled max_duration at once, ending now (true time).
	slowStart := at(slow).UnixNano()
	clock := &mobileSpan{Key: key(4, 1), StartNano: slowStart, Reports: []mobileReport{{Ack: at(0), ClientNano: slowStart}}}
	// crash, next launch after 1.5 s: closed client_interrupted at last_seen.
	crash := &mobileSpan{Key: key(5, 1), StartNano: start, Reports: []mobileReport{{Ack: at(time.Second), ClientNano: at(time.Second).UnixNano()}},
		Terminated: &mobileReport{Ack: at(2500 * time.Millisecond), Hint: "app_terminated"}, LastSeen: at(time.Second).UnixNano()}
	// Embrace Apple: a session span copied twice (never ended).
	apple := &mobileSpan{Key: key(6, 1), StartNano: start,
		Reports: []mobileReport{{Ack: at(0), ClientNano: start}, {Ack: at(5 * time.Second), ClientNano: at(5 * time.Second).UnixNano()}}}

	sessions := []*MobileSession{
		{Idx: 0, Life: LifeForeground, Spans: []*mobileSpan{fg}},
		{Idx: 1, Life: LifeKilledInBackground, Spans: []*mobileSpan{killed}},
		{Idx: 2, Life: LifeKilledInBackground, Spans: []*mobileSpan{early}},
		{Idx: 3, Life: LifeLongBackground, Offset: slow, Spans: []*mobileSpan{clock}},
		{Idx: 4, Life: LifeCrashRelaunch, Spans: []*mobileSpan{crash}},
		{Idx: 5, Life: LifeEmbraceApple, Spans: []*mobileSpan{apple}},
	}
	recs := []Rec{
		rec(fg.Key, StateSnapshot, "", at(time.Second), start, at(time.Second).UnixNano()),
		rec(fg.Key, StatePlain, "", at(5*time.Second), start, fg.EndNano),
		rec(killed.Key, StateReconciled, "idle_timeout", at(2*time.Second+lim.Background+lim.DecisionWait), start, hint.ClientNano),
		rec(early.Key, StateReconciled, "idle_timeout", at(2*time.Second+lim.Idle+lim.DecisionWait), start, hint.ClientNano),
		rec(clock.Key, StateReconciled, "max_duration", at(time.Second+lim.DecisionWait), slowStart, at(0).UnixNano()),
		rec(crash.Key, StateReconciled, "client_interrupted", at(4*time.Second), start, crash.LastSeen),
		rec(apple.Key, StatePlain, "", at(0), start, start),
		rec(apple.Key, StatePlain, "", at(5*time.Second), start, at(5*time.Second).UnixNano()),
	}
	f := EvaluateMobile(sessions, recs, lim)

	if f.FalseReconciled != 2 {
		t.Errorf("false reconciliations = %d %v, want 2 (the early one and the slow clock's)", f.FalseReconciled, f.FalseExamples)
	}
	if f.EmbraceCopiesOut != 1 {
		t.Errorf("Embrace copies out = %d, want 1", f.EmbraceCopiesOut)
	}
	if want := 0.5; f.TerminatedP99 != want || f.TerminatedOpen != 0 {
		t.Errorf("terminated p99 = %v (%d open), want %v", f.TerminatedP99, f.TerminatedOpen, want)
	}
	// Errors: 0 (fg), 0 (killed), 0 (early: its end is right, only its moment is wrong),
	// 8 days (the slow clock's), 0 (crash), 5 s (the Apple copy at start), 0 (the last copy).
	if f.DurationChecked != 7 || f.DurationErrMax != (8*24*time.Hour).Seconds() || f.DurationErrTrueClock != 0 {
		t.Errorf("duration: %d checked, max %v, true clock p99 %v; want 7, %v, 0", f.DurationChecked, f.DurationErrMax, f.DurationErrTrueClock, (8 * 24 * time.Hour).Seconds())
	}
	if f.KeptTraces != 6 || f.KeptCompletePct != 100 {
		t.Errorf("kept %d, %.1f%% complete; want 6, 100", f.KeptTraces, f.KeptCompletePct)
	}

	// A span acknowledged but never at the backend leaves its trace incomplete, and a
	// next launch that closed nothing is counted.
	lost := &mobileSpan{Key: key(1, 2), StartNano: start, EndNano: start}
	sessions[0].Spans = append(sessions[0].Spans, lost)
	f = EvaluateMobile(sessions, recs[:len(recs)-3], lim)
	if f.KeptCompletePct == 100 || f.TerminatedOpen != 1 {
		t.Errorf("kept complete %.1f%%, terminated not closed %d; want < 100, 1", f.KeptCompletePct, f.TerminatedOpen)
	}
}
