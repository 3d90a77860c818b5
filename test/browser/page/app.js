// The test page's script: the real OpenTelemetry web SDK 2.x, its OTLP/HTTP (JSON, fetch keepalive)
// exporter, and @otelcol-longspan/web — wired the way the README tells an app to.
// Bundled by esbuild (lib/bundle.js). The collector URL comes from ?otlp=...
import { context, trace } from '@opentelemetry/api';
import { WebTracerProvider } from '@opentelemetry/sdk-trace-web';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LongSpanProcessor } from '@otelcol-longspan/web';

const q = new URLSearchParams(location.search);

// --- the five lines of setup an app adds (see clients/web/README.md) ---
const exporter = new OTLPTraceExporter({ url: q.get('otlp') });
const longspan = new LongSpanProcessor(exporter, { interval: 1000, minAge: 0, sessionId: true });
const provider = new WebTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'browser-e2e', 'test.scenario': q.get('scenario') || '' }),
  spanProcessors: [longspan, new BatchSpanProcessor(exporter, { scheduledDelayMillis: 200 })],
});
// ---

const tracer = provider.getTracer('e2e-page', '1.0.0');
const log = [];
addEventListener('pagehide', (e) => log.push(`pagehide persisted=${e.persisted}`));
addEventListener('pageshow', (e) => log.push(`pageshow persisted=${e.persisted}`));
document.addEventListener('visibilitychange', () => log.push(`visibility ${document.visibilityState}`));

let session;
let ctx;
const ids = (s) => ({ traceId: s.spanContext().traceId, spanId: s.spanContext().spanId });

window.app = {
  log,
  sessionId: longspan.sessionId,
  /** Starts the long page.session span. */
  start() {
    session = tracer.startSpan('page.session', { attributes: { 'page.url': location.href } });
    ctx = trace.setSpan(context.active(), session);
    return ids(session);
  },
  /** A short child of page.session, ended at once (exported by the BatchSpanProcessor). */
  child(name) {
    const s = tracer.startSpan(name, { attributes: { 'child.name': name } }, ctx);
    s.end();
    return ids(s);
  },
  /** Ends page.session normally; returns its end time (ms since epoch). */
  end() {
    session.end();
    return Date.now();
  },
  flush: () => provider.forceFlush(),
};
document.title = 'ready';
