// Unit tests: node --test (real @opentelemetry/sdk-trace-base 2.x tracer, real OTLP/JSON serializer).
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { LongSpanProcessor } from '../src/index.js';

const HINT = 'longspan.client.hint';

/** A SpanExporter that records each export() call (one call = one request). */
function recorder() {
  const calls = [];
  return {
    calls,
    export(spans, cb) {
      calls.push(spans);
      cb({ code: 0 });
    },
    bytes: (i) => JsonTraceSerializer.serializeRequest(calls[i]).byteLength,
    json: (i) => JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(calls[i]))),
  };
}

/** Fake page: window (globalThis) and document event targets, sessionStorage. */
function fakePage() {
  const win = new EventTarget();
  const doc = new EventTarget();
  doc.visibilityState = 'visible';
  const store = new Map();
  globalThis.addEventListener = win.addEventListener.bind(win);
  globalThis.removeEventListener = win.removeEventListener.bind(win);
  globalThis.document = doc;
  globalThis.sessionStorage = {
    getItem: (k) => (store.has(k) ? store.get(k) : null),
    setItem: (k, v) => store.set(k, String(v)),
  };
  return {
    store,
    pagehide: (persisted) => win.dispatchEvent(Object.assign(new Event('pagehide'), { persisted })),
    pageshow: (persisted) => win.dispatchEvent(Object.assign(new Event('pageshow'), { persisted })),
    visibility: (state) => {
      doc.visibilityState = state;
      doc.dispatchEvent(new Event('visibilitychange'));
    },
  };
}

afterEach(() => {
  delete globalThis.addEventListener;
  delete globalThis.removeEventListener;
  delete globalThis.document;
  delete globalThis.sessionStorage;
});

function setup(options, exporter = recorder()) {
  const p = new LongSpanProcessor(exporter, { interval: 3_600_000, ...options });
  const provider = new BasicTracerProvider({ spanProcessors: [p] });
  const tracer = provider.getTracer('unit', '1.0.0');
  return { p, x: exporter, tracer, provider };
}

const ago = (ms) => Date.now() - ms;

test('periodic tick exports spans open >= minAge as open snapshots (end time 0), nothing else', async () => {
  const { p, x, tracer } = setup({ minAge: 1000 });
  const old = tracer.startSpan('page.session', { startTime: ago(5000), attributes: { 'page.url': '/' } });
  const young = tracer.startSpan('young');
  p._tick();
  assert.equal(x.calls.length, 1);
  assert.equal(x.calls[0].length, 1);
  const s = x.calls[0][0];
  assert.equal(s.name, 'page.session');
  assert.deepEqual(s.endTime, [0, 0]);
  assert.equal(s.ended, false);
  assert.equal(s.spanContext().spanId, old.spanContext().spanId);
  assert.equal(s.attributes['page.url'], '/');
  const wire = x.json(0).resourceSpans[0].scopeSpans[0].spans[0];
  assert.equal(wire.endTimeUnixNano, '0');
  assert.equal(wire.spanId, old.spanContext().spanId);
  // The snapshot is a copy: later changes to the live span do not alter it.
  old.setAttribute('later', 1);
  assert.equal(s.attributes.later, undefined);
  old.end();
  young.end();
  await p.shutdown();
});

test('the interval timer runs while spans are open and stops when none are', async () => {
  const { p, x, tracer } = setup({ minAge: 0, interval: 20 });
  assert.equal(p._t, 0, 'no timer before any span');
  const span = tracer.startSpan('long');
  for (let i = 0; i < 200 && x.calls.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(x.calls.length >= 2, `expected >= 2 periodic exports, got ${x.calls.length}`);
  span.end();
  for (let i = 0; i < 200 && p._t; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(p._t, 0, 'timer stopped once nothing is open');
  await p.shutdown();
});

test('spans that end before minAge cost no export, copy or serialization', async () => {
  let sized = 0;
  const x = recorder();
  const { p, tracer } = setup({ minAge: 60_000 }, x);
  const origStringify = JSON.stringify;
  JSON.stringify = (...a) => (sized++, origStringify(...a));
  try {
    for (let i = 0; i < 1000; i++) tracer.startSpan('short' + i).end();
    const open = tracer.startSpan('open-but-young');
    p._tick();
    open.end();
  } finally {
    JSON.stringify = origStringify;
  }
  assert.equal(x.calls.length, 0);
  assert.equal(sized, 0);
  assert.equal(p._open.size, 0);
  await p.shutdown();
});

test('pagehide (persisted=false) exports every open span at once with longspan.client.hint=page_unload', async () => {
  const page = fakePage();
  const { p, x, tracer } = setup({ minAge: 60_000 });
  const root = tracer.startSpan('page.session', { startTime: ago(10) });
  const young = tracer.startSpan('young'); // younger than minAge: still included on unload
  tracer.startSpan('done').end();
  page.pagehide(false);
  assert.equal(x.calls.length, 1);
  assert.deepEqual(x.calls[0].map((s) => s.name), ['page.session', 'young']);
  for (const s of x.calls[0]) {
    assert.equal(s.attributes[HINT], 'page_unload');
    assert.deepEqual(s.endTime, [0, 0]);
  }
  assert.equal(root.attributes[HINT], undefined, 'the live span is not modified');
  // Chromium fires visibilitychange -> hidden right after pagehide: no second export.
  page.visibility('hidden');
  assert.equal(x.calls.length, 1);
  root.end();
  young.end();
  await p.shutdown();
});

test('pagehide (persisted=true, back/forward cache) exports snapshots without the unload hint', async () => {
  const page = fakePage();
  const { p, x, tracer } = setup({ minAge: 60_000 });
  const root = tracer.startSpan('page.session');
  page.pagehide(true);
  page.visibility('hidden');
  assert.equal(x.calls.length, 1);
  assert.equal(x.calls[0][0].attributes[HINT], undefined);
  page.pageshow(true);
  page.visibility('visible');
  root.end();
  await p.shutdown();
});

test('visibilitychange -> hidden exports snapshots once per hide; a later close still sends the hint', async () => {
  const page = fakePage();
  const { p, x, tracer } = setup({ minAge: 60_000 });
  const root = tracer.startSpan('page.session');
  page.visibility('hidden');
  page.visibility('hidden');
  assert.equal(x.calls.length, 1);
  assert.equal(x.calls[0][0].attributes[HINT], undefined);
  page.visibility('visible');
  page.visibility('hidden');
  assert.equal(x.calls.length, 2);
  // The background tab is then closed: pagehide(persisted=false) must still carry the hint.
  page.pagehide(false);
  assert.equal(x.calls.length, 3);
  assert.equal(x.calls[2][0].attributes[HINT], 'page_unload');
  root.end();
  await p.shutdown();
});

test('shutdown stops the listeners and the timer', async () => {
  const page = fakePage();
  const { p, x, tracer } = setup({ minAge: 0, interval: 10 });
  const span = tracer.startSpan('s');
  await p.shutdown();
  page.pagehide(false);
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(x.calls.length, 0);
  span.end();
});

/** Spans with awkward content: unicode, escapes, arrays, numbers, events, links. */
function busySpans(tracer, n, { startSpread = 1000 } = {}) {
  const spans = [];
  for (let i = 0; i < n; i++) {
    const s = tracer.startSpan(`span-${i}-ünïcødé-"quoted"`, {
      startTime: ago(10_000 + ((i * 7919) % startSpread)),
      attributes: {
        'http.url': 'https://example.test/' + 'x'.repeat(i % 300),
        'text.emoji': '😀'.repeat(i % 50),
        'text.ctrl': '\u0001\n\t"\\'.repeat(i % 20),
        'num.int': i,
        'num.float': i / 3,
        flag: i % 2 === 0,
        list: Array.from({ length: i % 13 }, (_, k) => `v${k}`),
        nums: Array.from({ length: i % 7 }, (_, k) => k * 1.5),
      },
      links: i % 5 === 0 ? [{ context: spans[0]?.spanContext() ?? { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1 }, attributes: { why: 'x' } }] : [],
    });
    for (let e = 0; e < i % 4; e++) s.addEvent('evt-' + e, { 'e.n': e, 'e.s': 'ß'.repeat(e * 10) });
    spans.push(s);
  }
  return spans;
}

test('periodic snapshots are batched: every request <= maxExportBytes of real OTLP/JSON, all spans sent', async () => {
  const { p, x, tracer } = setup({ minAge: 0, maxExportBytes: 8192 });
  const spans = busySpans(tracer, 150);
  p._tick();
  assert.ok(x.calls.length > 5, `expected several requests, got ${x.calls.length}`);
  let total = 0;
  for (let i = 0; i < x.calls.length; i++) {
    const b = x.bytes(i);
    assert.ok(b <= 8192, `request ${i}: ${b} bytes > 8192`);
    total += x.calls[i].length;
  }
  assert.equal(total, 150);
  // Not wildly pessimistic either: requests are reasonably full.
  const avg = x.calls.reduce((a, _, i) => a + x.bytes(i), 0) / x.calls.length;
  assert.ok(avg > 8192 * 0.35, `average request only ${avg} bytes`);
  spans.forEach((s) => s.end());
  await p.shutdown();
});

test('the unload export is one request trimmed to unloadBytes, oldest spans first', async () => {
  const page = fakePage();
  const { p, x, tracer } = setup({ minAge: 0, unloadBytes: 32768 });
  const root = tracer.startSpan('page.session', { startTime: ago(3_600_000) });
  const spans = busySpans(tracer, 400);
  page.pagehide(false);
  assert.equal(x.calls.length, 1);
  const bytes = x.bytes(0);
  assert.ok(bytes <= 32768, `unload request ${bytes} bytes > 32768`);
  assert.ok(bytes < 64 * 1024);
  const sent = x.calls[0];
  assert.ok(sent.length < 401, 'trimmed');
  assert.equal(sent[0].name, 'page.session', 'the oldest span (the session) comes first');
  // everything sent is older than (or as old as) everything left out that would have fit
  const starts = sent.map((s) => s.startTime[0] * 1e9 + s.startTime[1]);
  assert.deepEqual(starts, [...starts].sort((a, b) => a - b));
  root.end();
  spans.forEach((s) => s.end());
  await p.shutdown();
});

test('a snapshot too large for a request loses its events first, and is left out if still too large', async () => {
  const { p, x, tracer } = setup({ minAge: 0, maxExportBytes: 4096 });
  const withEvents = tracer.startSpan('with-events');
  for (let i = 0; i < 40; i++) withEvents.addEvent('e' + i, { payload: 'p'.repeat(100) });
  const huge = tracer.startSpan('huge', { attributes: { blob: 'z'.repeat(10_000) } });
  p._tick();
  const sent = x.calls.flat();
  assert.deepEqual(sent.map((s) => s.name), ['with-events']);
  assert.equal(sent[0].events.length, 0);
  assert.equal(sent[0].droppedEventsCount, 40);
  assert.equal(withEvents.events.length, 40, 'the live span keeps its events');
  assert.ok(x.bytes(0) <= 4096);
  withEvents.end();
  huge.end();
  await p.shutdown();
});

test('sessionId: stamps session.id from sessionStorage on every span, reused by the next page load', async () => {
  const page = fakePage();
  const a = setup({ sessionId: true });
  assert.match(a.p.sessionId, /^[0-9a-f]{32}$/);
  assert.equal(page.store.get('longspan.session.id'), a.p.sessionId);
  const s1 = a.tracer.startSpan('page.session');
  assert.equal(s1.attributes['session.id'], a.p.sessionId);
  const own = a.tracer.startSpan('own', { attributes: { 'session.id': 'app-chose' } });
  assert.equal(own.attributes['session.id'], 'app-chose', 'an app-set id is kept');
  s1.end();
  own.end();
  await a.p.shutdown();
  const b = setup({ sessionId: true, sessionAttribute: 'app.session' }); // same tab, reloaded
  assert.equal(b.p.sessionId, a.p.sessionId);
  const s2 = b.tracer.startSpan('x');
  assert.equal(s2.attributes['app.session'], a.p.sessionId);
  s2.end();
  await b.p.shutdown();
  const c = setup({ sessionId: 'my.key' });
  assert.notEqual(c.p.sessionId, a.p.sessionId);
  assert.equal(page.store.get('my.key'), c.p.sessionId);
  await c.p.shutdown();
  const d = setup({});
  assert.equal(d.p.sessionId, '');
  const s3 = d.tracer.startSpan('x');
  assert.equal(s3.attributes['session.id'], undefined);
  s3.end();
  await d.p.shutdown();
});

test('sessionId without sessionStorage (e.g. blocked storage) still yields an id', async () => {
  globalThis.sessionStorage = {
    getItem() {
      throw new Error('SecurityError');
    },
    setItem() {
      throw new Error('SecurityError');
    },
  };
  const { p } = setup({ sessionId: true });
  assert.match(p.sessionId, /^[0-9a-f]{32}$/);
  await p.shutdown();
});

test('every snapshot carries longspan.client.now_unix_nano, the client clock when it was sent', async (t) => {
  const page = fakePage();
  const { p, x, tracer } = setup({ minAge: 0 });
  const root = tracer.startSpan('page.session');
  t.after(() => (root.end(), p.shutdown())); // no timer left behind if an assertion fails
  const before = Date.now();
  p._tick();
  page.pagehide(false);
  const after = Date.now();
  assert.equal(x.calls.length, 2);
  for (const call of x.calls) {
    const now = Math.round(call[0].attributes['longspan.client.now_unix_nano'] / 1e6); // ms
    assert.ok(now >= before && now <= after, `now_unix_nano ${now} ms not in [${before}, ${after}]`);
    const wire = x.json(x.calls.indexOf(call)).resourceSpans[0].scopeSpans[0].spans[0];
    const a = wire.attributes.find((kv) => kv.key === 'longspan.client.now_unix_nano');
    assert.ok(a.value.intValue !== undefined, 'sent as an OTLP int');
    assert.equal(Math.round(Number(a.value.intValue) / 1e6), now);
  }
  assert.equal(root.attributes['longspan.client.now_unix_nano'], undefined, 'the live span is not modified');
});

test('no crypto, no TextEncoder: ids from idGenerator or Math.random, sizes without TextEncoder', async () => {
  const saved = ['crypto', 'TextEncoder'].map((k) => [k, Object.getOwnPropertyDescriptor(globalThis, k)]);
  for (const [k] of saved) Object.defineProperty(globalThis, k, { value: undefined, configurable: true, writable: true });
  try {
    assert.equal(typeof crypto, 'undefined');
    assert.equal(typeof TextEncoder, 'undefined');
    fakePage();
    const a = setup({ sessionId: true, minAge: 0, maxExportBytes: 8192 });
    assert.match(a.p.sessionId, /^[0-9a-f]{32}$/);
    const b = setup({ sessionId: 'other.key', idGenerator: () => 'given-id' });
    assert.equal(b.p.sessionId, 'given-id');
    const spans = busySpans(a.tracer, 60);
    a.p._tick();
    assert.ok(a.x.calls.length >= 1);
    assert.equal(a.x.calls.flat().length, 60);
    spans.forEach((s) => s.end());
    await a.p.shutdown();
    await b.p.shutdown();
  } finally {
    for (const [k, d] of saved) d ? Object.defineProperty(globalThis, k, d) : delete globalThis[k];
  }
  // and with them back, the requests made without TextEncoder stayed within the bound
});
