package longspan // import "github.com/otelcol-longspan/otelcol-longspan/processor/longspan"

import (
	"sync"
	"time"
)

// refusalLog decides which quota refusals are logged: at most one per client per
// interval, so that a client hammering the collector costs one log line a minute, not
// one per request. It remembers at most max clients; when full, refusals of clients
// it does not know are only counted until entries expire.
type refusalLog struct {
	interval time.Duration
	max      int

	mu   sync.Mutex
	last map[string]time.Time
}

func newRefusalLog(interval time.Duration, maxClients int) *refusalLog {
	return &refusalLog{interval: interval, max: maxClients, last: map[string]time.Time{}}
}

// allow says whether a refusal of client at now is logged, and records it if so.
func (l *refusalLog) allow(client string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if at, ok := l.last[client]; ok && now.Sub(at) < l.interval {
		return false
	}
	if _, ok := l.last[client]; !ok && len(l.last) >= l.max {
		for c, at := range l.last {
			if now.Sub(at) >= l.interval {
				delete(l.last, c)
			}
		}
		if len(l.last) >= l.max {
			return false
		}
	}
	l.last[client] = now
	return true
}
