package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"fmt"
	"maps"

	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The session key: which attribute names a span's (or a session.end event's) session.
// SDKs disagree: OpenTelemetry Android and Swift, Embrace Apple and our clients write
// session.id; Embrace Android 9.2 dropped it for emb.user_session_id. So the key is a
// list, tried in order.

// keySessionAttribute is the single-key form of session_attributes, the only form
// before the list existed; configurations written for it keep working.
const keySessionAttribute = "session_attribute"

// Unmarshal reads the configuration, turning the single-key form
// `session_attribute: X` into `session_attributes: [X]` (and `session_attribute: ""`,
// which switched the session rule off, into `session_attributes: []`).
func (c *Config) Unmarshal(conf *confmap.Conf) error {
	raw := conf.ToStringMap()
	single, hasSingle := raw[keySessionAttribute]
	if hasSingle {
		if _, both := raw["session_attributes"]; both {
			return fmt.Errorf("%s and session_attributes: set one of them (%s: X is session_attributes: [X])", keySessionAttribute, keySessionAttribute)
		}
		raw = maps.Clone(raw)
		delete(raw, keySessionAttribute)
	}
	// plainConfig has no Unmarshal method: decoding into it does not come back here.
	type plainConfig Config
	if err := confmap.NewFromStringMap(raw).Unmarshal((*plainConfig)(c)); err != nil {
		return err
	}
	if hasSingle {
		key, ok := single.(string)
		if !ok && single != nil {
			return fmt.Errorf("%s: %v is not an attribute name", keySessionAttribute, single)
		}
		c.SessionAttributes = []string{}
		if key != "" {
			c.SessionAttributes = []string{key}
		}
	}
	return nil
}

// validateSessionAttributes checks that every session key is a name, and named once.
func (c *Config) validateSessionAttributes() []error {
	var errs []error
	seen := map[string]bool{}
	for _, key := range c.SessionAttributes {
		switch {
		case key == "":
			errs = append(errs, fmt.Errorf("session_attributes: an attribute name must not be empty"))
		case seen[key]:
			errs = append(errs, fmt.Errorf("session_attributes: %q is listed twice", key))
		}
		seen[key] = true
	}
	return errs
}

// sessionIn is the session a telemetry item belongs to: the value of the first of
// session_attributes that is set, to a non-empty value, in the first of maps that has
// it (the span's or record's own attributes before its resource's); "" when none is.
func sessionIn(keys []string, maps ...pcommon.Map) string {
	for _, key := range keys {
		for _, m := range maps {
			if v, ok := m.Get(key); ok {
				if s := v.AsString(); s != "" {
					return s
				}
			}
		}
	}
	return ""
}
