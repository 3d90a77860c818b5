// The "React Native app" of the Hermes end-to-end test: the real OTel JS SDK 2.x
// (BasicTracerProvider + BatchSpanProcessor) with @otelcol-longspan/react-native, an AppState and
// an AsyncStorage of the shape react-native and @react-native-async-storage/async-storage have.
// Bundled by ../lib/bundle.js the way Metro resolves packages, transpiled with
// @react-native/babel-preset, run on the Hermes VM by ../lib/hermes.js with ./prelude.js.
//
// The exporter is OpenTelemetry's own OTLP/JSON transform (otlp-transformer's
// createExportTraceServiceRequest with its JSON encoder) posted through fetch: the stock
// OTLPTraceExporter also needs TextEncoder, which Hermes has only since React Native 0.74 and
// hermes-engine-cli 0.12 lacks; this test never shims TextEncoder (nor crypto, nor document) so
// that a client that needed them would fail here.
//
// One process = one app launch. Globals from the harness (prelude.js): __LAUNCH (1 or 2),
// __STORAGE (what AsyncStorage held when the app was killed last time), __OTLP_URL, __advance(ms)
// (the virtual clock), __step(name) (labels the requests that follow), __done(result).
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { trace, context } from '@opentelemetry/api';
import { createExportTraceServiceRequest } from '../node_modules/@opentelemetry/otlp-transformer/build/esm/trace/internal.js';
import { JSON_ENCODER } from '../node_modules/@opentelemetry/otlp-transformer/build/esm/common/utils.js';
import { LongSpanProcessor } from '@otelcol-longspan/react-native';

const exporter = {
  export(spans, cb) {
    const body = JSON.stringify(createExportTraceServiceRequest(spans, JSON_ENCODER));
    fetch(__OTLP_URL, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body }).then(
      (r) => cb({ code: r.status >= 200 && r.status < 300 ? 0 : 1 }),
      (error) => cb({ code: 1, error }),
    );
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};

// react-native's AppState, by shape.
const listeners = [];
const AppState = {
  currentState: 'active',
  addEventListener(type, fn) {
    listeners.push(fn);
    return { remove: () => listeners.splice(listeners.indexOf(fn), 1) };
  },
  set(state) {
    this.currentState = state;
    listeners.slice().forEach((fn) => fn(state));
  },
};

// @react-native-async-storage/async-storage, by shape; its content outlives the process via the harness.
const store = Object.assign({}, __STORAGE);
const AsyncStorage = {
  getItem: (k) => Promise.resolve(k in store ? store[k] : null),
  setItem: (k, v) => Promise.resolve((store[k] = String(v)), undefined),
  removeItem: (k) => Promise.resolve(delete store[k], undefined),
};

const MIN = 60 * 1000;

async function main() {
  const env = {
    crypto: typeof crypto,
    TextEncoder: typeof TextEncoder,
    document: typeof document,
    classSyntax: (() => {
      try {
        return typeof new Function('return class {}')();
      } catch (e) {
        return 'unsupported: ' + e.message;
      }
    })(),
  };
  let provider;
  let session;
  const sessions = [];
  const tracer = () => provider.getTracer('rn-shop', '1.4.2');
  const startSession = () => {
    session = tracer().startSpan('app.session', { attributes: { 'app.launch': __LAUNCH } });
    sessions.push({ spanId: session.spanContext().spanId, traceId: session.spanContext().traceId, sessionId: longspan.sessionId });
  };
  const longspan = new LongSpanProcessor(exporter, {
    appState: AppState,
    storage: AsyncStorage,
    interval: 30 * 1000,
    minAge: 30 * 1000,
    flush: () => provider.forceFlush(),
    // The app ends its session span when a new session starts, and starts the next one.
    onSessionChange: () => {
      session.end();
      startSession();
    },
  });
  provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'rn-shop', 'os.name': 'hermes-test' }),
    spanProcessors: [longspan, new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 })],
  });
  __step('launch');
  await longspan.ready; // the previous run's open spans, if any, were reported (app_terminated)
  const restored = longspan.sessionId;
  startSession();
  let checkout;
  if (__LAUNCH === 1) {
    checkout = tracer().startSpan('screen.checkout', {}, trace.setSpan(context.active(), session));
    tracer().startSpan('api.cart', {}, trace.setSpan(context.active(), session)).end();
    __step('periodic-1');
    await __advance(31 * 1000);
    __step('background-short');
    AppState.set('background');
    await __advance(60 * 1000);
    __step('active-short');
    AppState.set('active');
    await __advance(31 * 1000);
    __step('background-long');
    AppState.set('background');
    await __advance(16 * MIN);
    __step('active-long'); // new session: onSessionChange ends app.session #1, starts #2
    AppState.set('active');
    __step('periodic-2');
    await __advance(31 * 1000);
    checkout.addEvent('payment.started');
    __step('periodic-3');
    await __advance(30 * 1000);
    // Killed here (no background, no shutdown): the process just ends.
  } else {
    __step('periodic-after-relaunch');
    await __advance(31 * 1000);
  }
  await __advance(2000); // lets the exporter callbacks and storage writes settle
  __done({ env, restored, sessions, storage: store, checkout: checkout && checkout.spanContext().spanId });
}

main().catch((e) => __done({ error: String(e && e.stack ? e.stack : e) }));
