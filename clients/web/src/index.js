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
// Every snapshot carries `longspan.client.now_unix_nano` (the page's clock when it was sent).
//
// The engine-neutral part (open-span tracking, snapshots, sizes, batching) is ./core.js, shared
// with @otelcol-longspan/react-native; this file adds the page: pagehide / visibilitychange and
// sessionStorage. Nothing here needs `crypto` or `TextEncoder` (ids: `idGenerator`, else
// crypto.getRandomValues when present, else Math.random).
//
// Types: ./index.d.ts. No runtime imports besides ./core.js: the OTel packages are peers for
// their types only.

import { LongSpanCore, HINT, pack, byStart, nowAttr } from './core.js';

/** The session id kept in sessionStorage under `key` (a new one from `gen` if none). */
const sessionId = (key, gen) => {
  let id;
  try {
    id = sessionStorage.getItem(key);
  } catch {}
  if (!id) {
    id = gen();
    try {
      sessionStorage.setItem(key, id);
    } catch {}
  }
  return id;
};

export class LongSpanProcessor extends LongSpanCore {
  /**
   * @param {import('./index.d.ts').SpanExporterLike} exporter the app's exporter (e.g. OTLPTraceExporter)
   * @param {import('./index.d.ts').LongSpanProcessorOptions} [options]
   */
  constructor(exporter, options = {}) {
    super(exporter, options);
    const o = options;
    this._ub = o.unloadBytes ?? 32768;
    if (o.sessionId) this.sessionId = sessionId(o.sessionId === true ? 'longspan.session.id' : o.sessionId, this._gen);
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

  /**
   * Exports a snapshot of every open span now, in one request trimmed to `unloadBytes`
   * (oldest spans first), with `attributes` added to each snapshot. Runs on hide/pagehide.
   * @param {import('@opentelemetry/api').Attributes} [attributes]
   */
  flushOpen(attributes) {
    const out = pack([...this._open].sort(byStart), { ...attributes, ...nowAttr(this._now()) }, this._ub, true);
    if (out.length) this._send(out);
  }

  /** Stops the timer and the page listeners. The exporter belongs to the app. */
  shutdown() {
    this._w?.removeEventListener?.('pagehide', this._h);
    this._w?.removeEventListener?.('pageshow', this._h);
    this._d?.removeEventListener?.('visibilitychange', this._h);
    return super.shutdown();
  }
}
