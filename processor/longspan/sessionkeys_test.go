package longspan

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-longspan/otelcol-longspan/processor/longspan/internal/engine"
)

// The single-key form `session_attribute` of older configurations is read as a list
// of one, "" as the empty list (the session rules off); setting both forms is an error.
func TestSessionAttributeIsTheListOfOne(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	load := func(name string) (*Config, error) {
		sub, err := cm.Sub("longspan/" + name)
		require.NoError(t, err)
		cfg := createDefaultConfig().(*Config)
		return cfg, sub.Unmarshal(cfg)
	}
	cfg, err := load("one_session_key")
	require.NoError(t, err)
	assert.Equal(t, []string{"app.session"}, cfg.SessionAttributes)
	require.NoError(t, cfg.Validate())

	cfg, err = load("no_session_key")
	require.NoError(t, err)
	assert.Equal(t, []string{}, cfg.SessionAttributes)
	require.NoError(t, cfg.Validate())

	_, err = load("both_session_keys")
	assert.ErrorContains(t, err, "session_attribute and session_attributes: set one of them")
}

func TestFirstSessionAttributeSetNamesTheSession(t *testing.T) {
	keys := []string{"session.id", "emb.user_session_id"}
	span, resource := pcommon.NewMap(), pcommon.NewMap()
	assert.Empty(t, sessionIn(keys, span, resource))

	resource.PutStr("emb.user_session_id", "user-1")
	assert.Equal(t, "user-1", sessionIn(keys, span, resource), "the second key, on the resource")
	span.PutStr("session.id", "")
	assert.Equal(t, "user-1", sessionIn(keys, span, resource), "an empty value is not a session")
	resource.PutStr("session.id", "s-res")
	assert.Equal(t, "s-res", sessionIn(keys, span, resource), "an earlier key wins over a later one")
	span.PutStr("session.id", "s-span")
	assert.Equal(t, "s-span", sessionIn(keys, span, resource), "the span's own value wins over its resource's")
	assert.Empty(t, sessionIn(nil, span, resource), "no keys: no sessions")
}

// Embrace Android 9.2 spans carry emb.user_session_id and no session.id: with the
// default keys an ended emb-session span of that session ends the session's open spans.
func TestEmbraceAndroidUserSessionIsASession(t *testing.T) {
	clk := &manualClock{now: t0}
	h := newHarness(t, t.TempDir(), clk, nil)
	work := spanSpec{trace: traceA, id: rootID, name: "checkout", start: t0, attrs: map[string]string{"emb.user_session_id": "u-1"}}
	h.mustConsume(traces(work))
	clk.Advance(time.Minute)
	session := spanSpec{trace: traceB, id: kidID, name: "emb-session", start: t0.Add(-time.Minute), end: clk.Now(),
		attrs: map[string]string{"emb.user_session_id": "u-1", "emb.type": "ux.session"}}
	h.mustConsume(traces(session))

	closed := map[string]string{}
	for _, b := range allSpans(h.sink) {
		for _, s := range b {
			closed[s.Name()] = attr(s, attrCloseReason)
		}
	}
	assert.Equal(t, map[string]string{"emb-session": "", "checkout": engine.ReasonSessionEnded}, closed)
}
