// The processor core shared by @otelcol-longspan/web and @otelcol-longspan/react-native.
//
// Plain JavaScript for any engine: no DOM (document, window, sessionStorage), no `crypto`,
// no `TextEncoder` — it runs as is on Hermes. The platform parts (page events, AppState,
// storage) are in the two packages' own index.js.
//
// It tracks the open spans, exports *snapshots* of them (the span as it is now, end time 0,
// which otelcol-longspan treats as an open span) through the app's own exporter, every
// `interval` for spans open at least `minAge`, batched into requests of at most
// `maxExportBytes` of OTLP/JSON, and stamps each snapshot with the client's clock
// (`longspan.client.now_unix_nano`). A span that ends before `minAge` costs one Set insert and
// one Set delete: no copy, no serialization, no export.

export const HINT = 'longspan.client.hint';
export const NOW = 'longspan.client.now_unix_nano';
export const ZERO = [0, 0];
export const noop = () => {};

/** Milliseconds since the epoch of an OTel HrTime [seconds, nanoseconds]. */
export const ms = (t) => t[0] * 1e3 + t[1] / 1e6;

/** UTF-8 length of a string (an upper bound for lone surrogates), without TextEncoder. */
export const utf8 = (s) => {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f) n += c < 0x800 || (c >= 0xd800 && c < 0xe000) ? 1 : 2;
  }
  return n;
};

/**
 * Upper bound of the OTLP/JSON bytes one span adds to an export request (checked against
 * the real @opentelemetry/otlp-transformer JSON serializer in the unit tests).
 */
export const size = (s) => {
  let n = 0;
  const count = (a) => {
    for (const k in a) n += 1 + (Array.isArray(a[k]) ? a[k].length : 0);
  };
  count(s.attributes);
  for (const e of s.events) count(e.attributes), (n += 2);
  for (const l of s.links) count(l.attributes), (n += 3);
  return 600 + 48 * n + utf8(JSON.stringify([s.name, s.attributes, s.events, s.links, s.status, s.instrumentationScope]));
};

/** Upper bound of the bytes a request spends on its envelope and resource. */
export const rsize = (r) => 300 + size({ name: '', attributes: (r && r.attributes) || {}, events: [], links: [] });

/** A ReadableSpan copy of a live span, open (end time 0), with extra attributes. */
export const snap = (s, extra) => {
  const c = s.spanContext();
  return {
    name: s.name,
    kind: s.kind,
    spanContext: () => c,
    parentSpanContext: s.parentSpanContext,
    startTime: s.startTime,
    endTime: ZERO,
    duration: ZERO,
    ended: false,
    status: s.status,
    attributes: { ...s.attributes, ...extra },
    links: s.links,
    events: s.events.slice(),
    resource: s.resource,
    instrumentationScope: s.instrumentationScope,
    droppedAttributesCount: s.droppedAttributesCount,
    droppedEventsCount: s.droppedEventsCount,
    droppedLinksCount: s.droppedLinksCount,
  };
};

/** Snapshot of `s` that fits in `max` bytes (dropping its events if needed), or undefined. */
export const fit = (s, extra, max) => {
  const c = snap(s, extra);
  let n = size(c);
  if (n > max && c.events.length) {
    c.droppedEventsCount += c.events.length;
    c.events = [];
    n = size(c);
  }
  return n > max ? undefined : [c, n];
};

/**
 * Snapshots of `spans` with `extra` attributes, in requests of at most `max` bytes each;
 * `one`: a single request, filled in the given order (a span that does not fit is left out).
 */
export const pack = (spans, extra, max, one) => {
  const out = [];
  const r = spans.length ? rsize(spans[0].resource) : 0;
  let batch,
    used = 0;
  for (const s of spans) {
    const f = fit(s, extra, max - r - (one ? used : 0));
    if (!f) continue;
    if (!batch || (!one && r + used + f[1] > max)) out.push((batch = [])), (used = 0);
    batch.push(f[0]);
    used += f[1];
  }
  return out;
};

/** `longspan.client.now_unix_nano` for a clock reading in ms. */
export const nowAttr = (now) => ({ [NOW]: Math.round(now) * 1e6 });

/** Oldest first (by start time). */
export const byStart = (a, b) => ms(a.startTime) - ms(b.startTime);

/** A random 32-hex-digit id: crypto.getRandomValues where the platform has it, else Math.random. */
export const randomId = () => {
  let b;
  try {
    b = globalThis.crypto.getRandomValues(new Uint8Array(16));
  } catch {
    b = Array.from({ length: 16 }, () => (Math.random() * 256) | 0);
  }
  return Array.from(b, (x) => (x | 256).toString(16).slice(1)).join('');
};

export class LongSpanCore {
  /**
   * @param {{export(spans: any[], cb: (r: {code: number}) => void): void}} exporter
   * @param {{interval?: number, minAge?: number, maxExportBytes?: number, sessionAttribute?: string, idGenerator?: () => string}} [o]
   */
  constructor(exporter, o = {}) {
    this._x = exporter;
    this._i = o.interval ?? 30000;
    this._min = o.minAge ?? 30000;
    this._max = o.maxExportBytes ?? 60000;
    this._sa = o.sessionAttribute ?? 'session.id';
    this._gen = o.idGenerator ?? randomId;
    /** The session id stamped on every span ('' = none). */
    this.sessionId = '';
    this._open = new Set();
    this._t = 0;
    this._p = new Set();
  }

  /** The client's clock in ms (Date.now). */
  _now() {
    return Date.now();
  }

  onStart(span) {
    this._open.add(span);
    if (this.sessionId && !(this._sa in span.attributes)) span.setAttribute(this._sa, this.sessionId);
    this._arm();
  }

  onEnd(span) {
    this._open.delete(span);
  }

  /** Starts the periodic timer if it is not running. */
  _arm() {
    if (!this._t) this._t = setInterval(() => this._tick(), this._i);
  }

  _disarm() {
    clearInterval(this._t);
    this._t = 0;
  }

  /** Spans open at least minAge at `now`. */
  _aged(now) {
    return [...this._open].filter((s) => now - ms(s.startTime) >= this._min);
  }

  /** Periodic snapshots: spans open >= minAge, in requests of <= maxExportBytes each. */
  _tick() {
    if (!this._open.size) return this._disarm();
    const now = this._now();
    const aged = this._aged(now);
    if (aged.length) this._send(pack(aged, nowAttr(now), this._max));
  }

  /** Exports each batch; the promise settles when every export has called back (true = all succeeded). */
  _send(batches) {
    const p = Promise.all(
      batches.map(
        (b) =>
          new Promise((res) => {
            try {
              this._x.export(b, (r) => res(!r || r.code === 0));
            } catch {
              res(false);
            }
          }),
      ),
    ).then((ok) => ok.every(Boolean));
    this._p.add(p);
    p.then(() => this._p.delete(p));
    return p;
  }

  /** Waits until every export this processor started has called back. */
  forceFlush() {
    return Promise.all([...this._p]).then(noop);
  }

  shutdown() {
    this._disarm();
    this._open.clear();
    return Promise.resolve();
  }
}
