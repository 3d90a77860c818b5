// @otelcol-longspan/react-native — a SpanProcessor that makes long-running app spans visible,
// and reports the spans of an app that was killed.
//
// Built on the engine-neutral core of @otelcol-longspan/web (no DOM, no crypto, no
// TextEncoder; runs on Hermes). On top of the core's periodic open-span snapshots:
//   - AppState `background`: snapshots of every open span at once, each with
//     `longspan.client.hint=app_background`; the periodic snapshots pause; the open spans and
//     the session are written to storage; then `flush()` (e.g. the provider's forceFlush).
//   - AppState `active` (after background): snapshots of every open span, no hint (the
//     collector's normal idle rule again); periodic snapshots resume. After a background longer
//     than `sessionTimeout` (15 min, as OTel Android) a new session id starts first.
//   - Storage (AsyncStorage-shaped, injected): the session id and when the app was last in the
//     foreground, and the open spans as last snapshotted. At the next launch after a kill or
//     crash the previous run's open spans are exported at once as open spans carrying
//     `longspan.client.hint=app_terminated` and `longspan.client.last_seen_unix_nano` (when this
//     client last knew them open), so the collector can close them without waiting.
// AppState and storage are injected: the package imports nothing from react-native.
//
// Types: ./index.d.ts.

import { LongSpanCore, HINT, NOW, ZERO, pack, byStart, nowAttr, noop } from '@otelcol-longspan/web/core';

export const LAST_SEEN = 'longspan.client.last_seen_unix_nano';
export const APP_BACKGROUND = 'app_background';
export const APP_TERMINATED = 'app_terminated';

/** What a persisted open span looks like in storage (short keys: it is written often). */
const record = (s, seen) => {
  const c = s.spanContext();
  const p = s.parentSpanContext;
  const sc = s.instrumentationScope;
  return {
    n: s.name,
    k: s.kind,
    c: [c.traceId, c.spanId, c.traceFlags],
    p: p ? [p.traceId, p.spanId, p.traceFlags] : undefined,
    t: s.startTime,
    s: s.status,
    a: s.attributes,
    e: s.events,
    l: s.links.map((l) => ({ c: [l.context.traceId, l.context.spanId, l.context.traceFlags], a: l.attributes, d: l.droppedAttributesCount })),
    r: (s.resource && s.resource.attributes) || {},
    u: s.resource && s.resource.schemaUrl,
    i: [sc.name, sc.version, sc.schemaUrl],
    d: [s.droppedAttributesCount, s.droppedEventsCount, s.droppedLinksCount],
    seen,
  };
};

const ctx = (a) => a && { traceId: a[0], spanId: a[1], traceFlags: a[2] };

/** A ReadableSpan (open, end time 0) of a persisted record; `res` dedupes resources. */
const revive = (r, res) => {
  const key = JSON.stringify([r.r, r.u]);
  if (!res.has(key)) res.set(key, { attributes: r.r, schemaUrl: r.u });
  const c = ctx(r.c);
  return {
    name: r.n,
    kind: r.k,
    spanContext: () => c,
    parentSpanContext: ctx(r.p),
    startTime: r.t,
    endTime: ZERO,
    duration: ZERO,
    ended: false,
    status: r.s,
    attributes: { ...r.a, [LAST_SEEN]: Math.round(r.seen) * 1e6 },
    links: r.l.map((l) => ({ context: ctx(l.c), attributes: l.a, droppedAttributesCount: l.d })),
    events: r.e,
    resource: res.get(key),
    instrumentationScope: { name: r.i[0], version: r.i[1], schemaUrl: r.i[2] },
    droppedAttributesCount: r.d[0],
    droppedEventsCount: r.d[1],
    droppedLinksCount: r.d[2],
  };
};

export class LongSpanProcessor extends LongSpanCore {
  /**
   * @param {import('./index.d.ts').SpanExporterLike} exporter the app's exporter (e.g. OTLPTraceExporter)
   * @param {import('./index.d.ts').LongSpanProcessorOptions} [options]
   */
  constructor(exporter, options = {}) {
    super(exporter, options);
    const o = options;
    this._st = o.storage;
    this._key = o.storageKey ?? 'longspan.state';
    this._to = o.sessionTimeout ?? 15 * 60 * 1000;
    this._fl = o.flush;
    this._chg = o.onSessionChange;
    this._bg = 0; // when the app went to the background (ms), 0 while in the foreground
    this._saved = new Set(); // the spans in storage as this run's open spans
    this._prev = []; // records of earlier runs not yet reported
    this._wn = 0;
    this.sessionId = this._gen();
    const a = o.appState;
    if (a && a.currentState === 'background') this._bg = this._now();
    this._sub = a && a.addEventListener('change', (s) => this._change(s));
    const read = this._read();
    this._w = read.then(noop, noop); // no write before the previous run's state was read
    /** Settles once storage was read and written back: session restored, previous run's open spans reported (export started). */
    this.ready = read.then((st) => this._restore(st));
  }

  _arm() {
    if (!this._bg) super._arm();
  }

  onEnd(span) {
    super.onEnd(span);
    if (this._saved.delete(span)) this._save();
  }

  _tick() {
    super._tick();
    if (this._open.size || this._saved.size) this._persist(this._aged(this._now()));
  }

  async _read() {
    try {
      return this._st && JSON.parse(await this._st.getItem(this._key));
    } catch {}
  }

  /** Keeps the stored session if the app was in the foreground within sessionTimeout; reports the previous run. */
  _restore(st) {
    if (st && st.v === 1) {
      const s = st.session;
      if (s && s.id && this._now() - s.seen <= this._to) this._session(s.id);
      this._prev = [...(st.prev || []), ...(st.open || [])];
    }
    this._reportPrev();
    return this._save();
  }

  /** Exports the previous runs' open spans as app_terminated; drops them from storage once the export succeeded. */
  _reportPrev() {
    if (!this._prev.length) return;
    const sent = this._prev;
    const res = new Map();
    const spans = sent.map((r) => revive(r, res)).sort(byStart);
    this._send(pack(spans, { [HINT]: APP_TERMINATED, ...nowAttr(this._now()) }, this._max)).then((ok) => {
      if (!ok) return;
      this._prev = this._prev.filter((r) => !sent.includes(r));
      this._save();
    });
  }

  /** Adopts session id `id` (restamping the open spans that carry the old one). */
  _session(id) {
    const old = this.sessionId;
    if (id === old) return;
    this.sessionId = id;
    for (const s of this._open) if (s.attributes[this._sa] === old) s.setAttribute(this._sa, id);
  }

  _change(state) {
    const now = this._now();
    if (state === 'background') {
      if (this._bg) return;
      this._bg = now;
      this._disarm();
      this.flushOpen({ [HINT]: APP_BACKGROUND });
      this._persist([...this._open]);
      Promise.resolve(this._fl && this._fl()).catch(noop);
    } else if (state === 'active' && this._bg) {
      const was = this._bg;
      this._bg = 0;
      if (now - was > this._to) {
        const old = this.sessionId;
        this.sessionId = this._gen();
        if (this._chg) this._chg(this.sessionId, old);
      }
      this.flushOpen();
      this._persist([...this._open]);
      if (this._open.size) this._arm();
    }
  }

  /** Snapshots of every open span now (oldest first, in requests of <= maxExportBytes), with `attributes`. */
  flushOpen(attributes) {
    const out = pack([...this._open].sort(byStart), { ...attributes, ...nowAttr(this._now()) }, this._max);
    return out.length ? this._send(out).then(noop) : Promise.resolve();
  }

  /** Makes `spans` (the ones just snapshotted) this run's open spans in storage. */
  _persist(spans) {
    this._saved = new Set(spans);
    return this._save();
  }

  /** Writes the state; writes are serialized and coalesced (the last one queued writes the latest state). */
  _save() {
    if (!this._st) return Promise.resolve();
    const n = ++this._wn;
    return (this._w = this._w
      .then(() => {
        if (n !== this._wn) return;
        const now = this._now();
        const open = pack([...this._saved].sort(byStart), undefined, this._max, true)[0] || [];
        return this._st.setItem(
          this._key,
          JSON.stringify({
            v: 1,
            session: { id: this.sessionId, seen: this._bg || now },
            open: open.map((s) => record(s, now)),
            prev: this._prev,
          }),
        );
      })
      .catch(noop));
  }

  /** Waits for this processor's exports and storage writes. */
  forceFlush() {
    return Promise.all([super.forceFlush(), this._w]).then(noop);
  }

  /** Stops the timer and the AppState listener; storage keeps the open spans (reported at the next launch). */
  shutdown() {
    if (this._sub) this._sub.remove();
    this._sub = undefined;
    return this._save().then(() => super.shutdown());
  }
}

export { HINT, NOW };
