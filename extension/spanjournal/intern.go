package spanjournal // import "github.com/otelcol-longspan/otelcol-longspan/extension/spanjournal"

// maxInterned bounds the intern table. Past it the table starts over: strings
// already shared stay shared, new ones are shared from then on.
const maxInterned = 1 << 20

// internTable shares equal strings between spans. A browser trace repeats its
// session id, client, service and a handful of span names in every one of its
// hundreds of spans; with payloads on disk those copies would be most of what a held
// span costs in memory.
type internTable struct {
	m map[string]string
}

// share replaces each string with the table's copy of it.
func (it *internTable) share(ss ...*string) {
	it.reset()
	for _, s := range ss {
		if *s == "" {
			continue
		}
		if v, ok := it.m[*s]; ok {
			*s = v
			continue
		}
		it.m[*s] = *s
	}
}

// of returns the table's copy of b, without allocating when it has one (replay
// decodes millions of spans that repeat a few strings).
func (it *internTable) of(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if v, ok := it.m[string(b)]; ok {
		return v
	}
	it.reset()
	v := string(b)
	it.m[v] = v
	return v
}

func (it *internTable) reset() {
	if it.m == nil || len(it.m) >= maxInterned {
		it.m = make(map[string]string, 1024)
	}
}

// share makes s use the table's copies of its name and origin.
func (st *state) share(s *Span) {
	st.strings.share(&s.Name)
	if s.origin == nil {
		return
	}
	if o, ok := st.origins[*s.origin]; ok {
		s.origin = o
		return
	}
	if st.origins == nil || len(st.origins) >= maxInterned {
		st.origins = make(map[Origin]*Origin, 1024)
	}
	o := *s.origin
	st.strings.share(&o.Service, &o.SessionID, &o.Source, &o.Client)
	s.origin = &o
	st.origins[o] = s.origin
}
