// @otelcol-longspan/web — a SpanProcessor that makes long-running browser spans visible.
//
// Stock OpenTelemetry JS exports a span only when it ends. This processor exports a
// *snapshot* of every span that is still open — the span as it is now, with end time 0,
// which the otelcol-longspan collector treats as an open span — through the app's own
// exporter:
//   - every `interval` ms, for each span open at least `minAge` ms (batched: as many
//     requests as needed, each at most `maxExportBytes` of OTLP/JSON);
//   - at once for every open span when the page is hidden (`visibilitychange` -> hidden)
//     or left (`pagehide`); when `pagehide.persisted === false` (the page is being
//     unloaded, not put in the back/forward cache) each snapshot carries
//     `longspan.client.hint=page_unload`, and the collector closes the span right away as
//     `client_interrupted`. This export is one request trimmed to `unloadBytes` (oldest
//     spans first; a span that does not fit loses its events, then is left out) so that it
//     stays inside the browser's 64 KiB keepalive budget, leaving room for the app's own
//     BatchSpanProcessor flush.
// A span that ends before `minAge` costs one Set insert and one Set delete: no timer of
// its own, no copy, no serialization, no export.
//
// Types: ./index.d.ts. No runtime imports: the OTel packages are peers for their types only.

const HINT = 'longspan.client.hint';
const ZERO = [0, 0];
const enc = new TextEncoder();
const noop = () => {};

/** Milliseconds since the epoch of an OTel HrTime [seconds, nanoseconds]. */
const ms = (t) => t[0] * 1e3 + t[1] / 1e6;

/**
 * Upper bound of the OTLP/JSON bytes one span adds to an export request (checked against
 * the real @opentelemetry/otlp-transformer JSON serializer in the unit tests).
 */
const size = (s) => {
  let n = 0;
  const count = (a) => {
    for (const k in a) n += 1 + (Array.isArray(a[k]) ? a[k].length : 0);
  };
  count(s.attributes);
  for (const e of s.events) count(e.attributes), (n += 2);
  for (const l of s.links) count(l.attributes), (n += 3);
  return 600 + 48 * n + enc.encode(JSON.stringify([s.name, s.attributes, s.events, s.links, s.status, s.instrumentationScope])).length;
};

/** Upper bound of the bytes a request spends on its envelope and resource. */
const rsize = (r) => 300 + size({ name: '', attributes: (r && r.attributes) || {}, events: [], links: [] });

/** A ReadableSpan copy of a live span, open (end time 0), with extra attributes. */
const snap = (s, extra) => {
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
const fit = (s, extra, max) => {
  const c = snap(s, extra);
  let n = size(c);
  if (n > max && c.events.length) {
    c.droppedEventsCount += c.events.length;
    c.events = [];
    n = size(c);
  }
  return n > max ? undefined : [c, n];
};

/** The session id kept in sessionStorage under `key` (a new random one if none). */
const sessionId = (key) => {
  let id;
  try {
    id = sessionStorage.getItem(key);
  } catch {}
  if (!id) {
    id = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b | 256).toString(16).slice(1)).join('');
    try {
      sessionStorage.setItem(key, id);
    } catch {}
  }
  return id;
};

export class LongSpanProcessor {
  /**
   * @param {import('./index.d.ts').SpanExporterLike} exporter the app's exporter (e.g. OTLPTraceExporter)
   * @param {import('./index.d.ts').LongSpanProcessorOptions} [options]
   */
  constructor(exporter, options = {}) {
    const o = options;
    this._x = exporter;
    this._i = o.interval ?? 30000;
    this._min = o.minAge ?? 30000;
    this._max = o.maxExportBytes ?? 60000;
    this._ub = o.unloadBytes ?? 32768;
    this._sa = o.sessionAttribute ?? 'session.id';
    /** The session id stamped on every span ('' when `sessionId` is off). */
    this.sessionId = o.sessionId ? sessionId(o.sessionId === true ? 'longspan.session.id' : o.sessionId) : '';
    this._open = new Set();
    this._t = 0;
    this._hidden = false;
    const h = (this._h = (e) => {
      if (e.type == 'pagehide') {
        this._hidden = true;
        this.flushOpen(e.persisted === false ? { [HINT]: 'page_unload' } : undefined);
      } else if (e.type == 'pageshow' || this._d.visibilityState != 'hidden') this._hidden = false;
      else if (!this._hidden) (this._hidden = true), this.flushOpen();
    });
    this._w = typeof addEventListener == 'function' ? globalThis : undefined;
    this._d = globalThis.document;
    this._w?.addEventListener('pagehide', h);
    this._w?.addEventListener('pageshow', h);
    this._d?.addEventListener?.('visibilitychange', h);
  }

  onStart(span) {
    this._open.add(span);
    if (this.sessionId && !(this._sa in span.attributes)) span.setAttribute(this._sa, this.sessionId);
    if (!this._t) this._t = setInterval(() => this._tick(), this._i);
  }

  onEnd(span) {
    this._open.delete(span);
  }

  /** Periodic snapshots: spans open >= minAge, in requests of <= maxExportBytes each. */
  _tick() {
    if (!this._open.size) return clearInterval(this._t), (this._t = 0);
    const now = Date.now();
    const out = [];
    let batch, used, r;
    for (const s of this._open) {
      if (now - ms(s.startTime) < this._min) continue;
      r ??= rsize(s.resource);
      const f = fit(s, undefined, this._max - r);
      if (!f) continue;
      if (!batch || used + f[1] > this._max) out.push((batch = [])), (used = r);
      batch.push(f[0]);
      used += f[1];
    }
    for (const b of out) this._x.export(b, noop);
  }

  /**
   * Exports a snapshot of every open span now, in one request trimmed to `unloadBytes`
   * (oldest spans first), with `attributes` added to each snapshot. Runs on hide/pagehide.
   * @param {import('@opentelemetry/api').Attributes} [attributes]
   */
  flushOpen(attributes) {
    const spans = [...this._open].sort((a, b) => ms(a.startTime) - ms(b.startTime));
    const out = [];
    let left = spans.length ? this._ub - rsize(spans[0].resource) : 0;
    for (const s of spans) {
      const f = fit(s, attributes, left);
      if (f) out.push(f[0]), (left -= f[1]);
    }
    if (out.length) this._x.export(out, noop);
  }

  forceFlush() {
    return Promise.resolve();
  }

  /** Stops the timer and the page listeners. The exporter belongs to the app. */
  shutdown() {
    clearInterval(this._t);
    this._t = 0;
    this._open.clear();
    this._w?.removeEventListener('pagehide', this._h);
    this._w?.removeEventListener('pageshow', this._h);
    this._d?.removeEventListener?.('visibilitychange', this._h);
    return Promise.resolve();
  }
}
