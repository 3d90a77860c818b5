package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

// payloadCache keeps the payloads written last in memory, up to a byte budget
// (payload_cache_bytes), so that a trace released soon after its spans arrived (most
// traces that are not page sessions) is not read back from disk. Past the budget the
// oldest cached payloads leave memory, first in first out; their spans keep only the
// location. Every method runs under the journal lock.
type payloadCache struct {
	budget int64
	bytes  int64
	// queue holds the cached spans, oldest first from head. A span that left the
	// journal stays queued (and its bytes counted) until it reaches the head: the
	// budget bounds memory either way.
	queue []*Span
	head  int
}

// add caches s's payload, now that its record is durable, or lets it go at once
// when there is no budget.
func (c *payloadCache) add(s *Span) {
	if s.cached || s.payload == nil || s.at.IsZero() {
		return
	}
	if c.budget <= 0 {
		s.payload = nil
		return
	}
	s.cached = true
	c.bytes += int64(len(*s.payload))
	c.queue = append(c.queue, s)
	for c.bytes > c.budget && c.head < len(c.queue) {
		old := c.queue[c.head]
		c.queue[c.head] = nil
		c.head++
		c.bytes -= int64(len(*old.payload))
		old.payload, old.cached = nil, false
	}
	if c.head > len(c.queue)/2 && c.head > 1024 {
		c.queue = append(c.queue[:0], c.queue[c.head:]...)
		c.head = 0
	}
}
