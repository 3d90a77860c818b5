// Unit tests: node --test (real @opentelemetry/sdk-trace-base 2.x tracer, real OTLP/JSON serializer),
// with a fake AppState and an in-memory AsyncStorage. The same code runs on Hermes in test/hermes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { LongSpanProcessor } from '../src/index.js';

const HINT = 'longspan.client.hint';
const NOW = 'longspan.client.now_unix_nano';
const LAST_SEEN = 'longspan.client.last_seen_unix_nano';
const MIN = 60_000;

/** A SpanExporter that records each export() call (one call = one request); `fail` makes exports fail. */
function recorder() {
  const calls = [];
  const x = {
    calls,
    fail: false,
    export(spans, cb) {
      calls.push(spans);
      cb({ code: x.fail ? 1 : 0 });
    },
    json: (i) => JSON.parse(new TextDecoder().decode(JsonTraceSerializer.serializeRequest(calls[i]))),
  };
  return x;
}

/** react-native's AppState, as far as the processor uses it. */
function appState(initial = 'active') {
  const fns = new Set();
  return {
    currentState: initial,
    addEventListener(type, fn) {
      assert.equal(type, 'change');
      fns.add(fn);
      return { remove: () => fns.delete(fn) };
    },
    set(state) {
      this.currentState = state;
      for (const fn of fns) fn(state);
    },
    get listeners() {
      return fns.size;
    },
  };
}

/** @react-native-async-storage/async-storage, in memory (survives "launches": pass it to the next processor). */
function storage() {
  const m = new Map();
  return {
    m,
    writes: 0,
    async getItem(k) {
      return m.has(k) ? m.get(k) : null;
    },
    async setItem(k, v) {
      this.writes++;
      m.set(k, String(v));
    },
    async removeItem(k) {
      m.delete(k);
    },
    state: () => JSON.parse(m.get('longspan.state')),
  };
}

const clock = { now: Date.now() };
class Clocked extends LongSpanProcessor {
  _now() {
    return clock.now;
  }
}

/** One app launch: processor + tracer, sharing `store` with the launches before it. */
async function launch(store, options = {}, x = recorder()) {
  const app = appState();
  const p = new Clocked(x, { appState: app, storage: store, interval: 3_600_000, minAge: 1000, ...options });
  const provider = new BasicTracerProvider({ spanProcessors: [p] });
  await p.ready;
  return { p, x, app, tracer: provider.getTracer('rn-unit', '1.0.0') };
}

const attr = (s, k) => s.attributes[k];
const msOf = (ns) => Math.round(ns / 1e6);

test('background: every open span at once with hint app_background and now_unix_nano, then flush(); periodic snapshots pause; active: flush without hint', async (t) => {
  let flushed = 0;
  const store = storage();
  const { p, x, app, tracer } = await launch(store, { flush: () => flushed++ });
  t.after(() => p.shutdown());
  const session = tracer.startSpan('app.session', { startTime: Date.now() - 5000 });
  const young = tracer.startSpan('screen.checkout'); // younger than minAge: still included
  tracer.startSpan('done').end();
  assert.ok(p._t, 'periodic timer armed');
  clock.now += 10;
  app.set('background');
  assert.equal(x.calls.length, 1);
  assert.deepEqual(x.calls[0].map((s) => s.name), ['app.session', 'screen.checkout']);
  for (const s of x.calls[0]) {
    assert.equal(attr(s, HINT), 'app_background');
    assert.equal(msOf(attr(s, NOW)), clock.now);
    assert.deepEqual(s.endTime, [0, 0]);
    assert.equal(attr(s, 'session.id'), p.sessionId);
  }
  assert.equal(attr(session, HINT), undefined, 'the live span is not modified');
  assert.equal(flushed, 1, 'flush() called on background');
  assert.equal(p._t, 0, 'periodic snapshots pause in the background');
  app.set('background'); // repeated event: nothing more
  assert.equal(x.calls.length, 1);
  await p.forceFlush();
  const st = store.state();
  assert.deepEqual(st.open.map((r) => r.n), ['app.session', 'screen.checkout'], 'open spans persisted on background');
  assert.deepEqual(st.session, { id: p.sessionId, seen: clock.now });
  const wire = x.json(0).resourceSpans[0].scopeSpans[0].spans;
  assert.equal(wire[0].endTimeUnixNano, '0');
  assert.ok(wire[0].attributes.some((a) => a.key === NOW && a.value.intValue !== undefined), 'now_unix_nano is an OTLP int');

  const id = p.sessionId;
  clock.now += 60_000; // a short background
  app.set('active');
  assert.equal(x.calls.length, 2);
  assert.deepEqual(x.calls[1].map((s) => s.name), ['app.session', 'screen.checkout']);
  for (const s of x.calls[1]) {
    assert.equal(attr(s, HINT), undefined, 'no hint: the collector applies its normal idle rule again');
    assert.equal(msOf(attr(s, NOW)), clock.now);
  }
  assert.equal(p.sessionId, id, 'same session after a short background');
  assert.ok(p._t, 'periodic snapshots resume');
  session.end();
  young.end();
});

test('a background longer than sessionTimeout starts a new session id; later spans carry it', async (t) => {
  const changes = [];
  const { p, x, app, tracer } = await launch(storage(), { sessionTimeout: 15 * 60_000, onSessionChange: (n, o) => changes.push([n, o]) });
  t.after(() => p.shutdown());
  const a = tracer.startSpan('app.session');
  const first = p.sessionId;
  assert.match(first, /^[0-9a-f]{32}$/);
  assert.equal(attr(a, 'session.id'), first);
  app.set('background');
  clock.now += 15 * 60_000; // exactly the timeout: still the same session
  app.set('active');
  assert.equal(p.sessionId, first);
  app.set('background');
  clock.now += 15 * 60_000 + 1;
  app.set('active');
  assert.notEqual(p.sessionId, first);
  assert.match(p.sessionId, /^[0-9a-f]{32}$/);
  assert.deepEqual(changes, [[p.sessionId, first]]);
  const b = tracer.startSpan('app.session');
  assert.equal(attr(b, 'session.id'), p.sessionId);
  assert.equal(attr(a, 'session.id'), first, 'spans of the old session keep it');
  assert.equal(x.calls.length, 4);
  a.end();
  b.end();
});

test('next launch after a kill: the previous run\'s open spans are reported at once with hint app_terminated and last_seen', async (t) => {
  const store = storage();
  const run1 = await launch(store, { minAge: 1000 });
  const root = run1.tracer.startSpan('app.session', { startTime: Date.now() - 10_000, attributes: { 'app.screen': 'home' } });
  const child = run1.tracer.startSpan('screen.checkout', { startTime: Date.now() - 5000 }, (await import('@opentelemetry/api')).trace.setSpan((await import('@opentelemetry/api')).context.active(), root));
  child.addEvent('step', { n: 1 });
  const ended = run1.tracer.startSpan('ended.before.kill', { startTime: Date.now() - 5000 });
  run1.x.calls.length = 0;
  run1.p._tick(); // periodic snapshot: the three aged spans, persisted
  assert.equal(run1.x.calls.flat().length, 3);
  const seen = clock.now;
  await run1.p.forceFlush();
  clock.now += 2000;
  ended.end(); // removed from storage: it ended, it must not be reported as terminated
  await run1.p.forceFlush();
  assert.deepEqual(store.state().open.map((r) => r.n), ['app.session', 'screen.checkout']);
  // Killed here: no background event, no shutdown. Its timer is what a dead process does not have.
  run1.p._disarm();
  const id1 = run1.p.sessionId;

  clock.now += 3 * 60_000; // relaunched 3 minutes later
  const run2 = await launch(store);
  t.after(() => run2.p.shutdown());
  assert.equal(run2.p.sessionId, id1, 'session kept: the app was in the foreground within sessionTimeout');
  assert.equal(run2.x.calls.length, 1, 'reported at once, in one request');
  const [r, c] = run2.x.calls[0];
  assert.deepEqual([r.name, c.name], ['app.session', 'screen.checkout']);
  for (const s of [r, c]) {
    assert.equal(attr(s, HINT), 'app_terminated');
    assert.equal(msOf(attr(s, LAST_SEEN)), seen + 2000, 'last known open = the last write of run 1');
    assert.equal(msOf(attr(s, NOW)), clock.now);
    assert.equal(attr(s, 'session.id'), id1);
    assert.deepEqual(s.endTime, [0, 0]);
  }
  assert.equal(r.spanContext().spanId, root.spanContext().spanId);
  assert.equal(c.parentSpanContext.spanId, root.spanContext().spanId);
  assert.deepEqual(r.startTime, root.startTime);
  assert.equal(attr(r, 'app.screen'), 'home');
  assert.equal(c.events[0].name, 'step');
  const wire = run2.x.json(0).resourceSpans[0].scopeSpans[0];
  assert.equal(wire.scope.name, 'rn-unit');
  const ws = wire.spans[1];
  assert.equal(ws.traceId, root.spanContext().traceId);
  assert.equal(ws.parentSpanId, root.spanContext().spanId);
  assert.equal(ws.endTimeUnixNano, '0');
  assert.equal(ws.events[0].attributes[0].value.intValue, 1);
  for (const k of [LAST_SEEN, NOW]) assert.ok(ws.attributes.find((a) => a.key === k).value.intValue !== undefined, `${k} is an OTLP int`);
  await run2.p.forceFlush();
  const st = store.state();
  assert.deepEqual(st.prev, [], 'reported spans leave storage once the export succeeded');
  assert.deepEqual(st.open, []);
  root.end();
  child.end();

  // A third launch has nothing left to report.
  const run3 = await launch(store);
  t.after(() => run3.p.shutdown());
  assert.equal(run3.x.calls.length, 0);
});

test('a failed app_terminated export keeps the spans for the next launch; a launch after sessionTimeout starts a new session', async (t) => {
  const store = storage();
  const run1 = await launch(store);
  const s = run1.tracer.startSpan('app.session');
  run1.app.set('background'); // persisted; then killed in the background
  await run1.p.forceFlush();
  run1.p._disarm();
  clock.now += 20 * 60_000;
  const failing = recorder();
  failing.fail = true;
  const run2 = await launch(store, {}, failing);
  t.after(() => run2.p.shutdown());
  assert.notEqual(run2.p.sessionId, run1.p.sessionId, 'new session: in the background longer than sessionTimeout');
  assert.equal(failing.calls.length, 1);
  await run2.p.forceFlush();
  assert.deepEqual(store.state().prev.map((r) => r.n), ['app.session'], 'kept: the export failed');
  assert.equal(store.state().session.id, run2.p.sessionId);
  const run3 = await launch(store);
  t.after(() => run3.p.shutdown());
  assert.equal(run3.x.calls.length, 1);
  assert.equal(run3.x.calls[0][0].spanContext().spanId, s.spanContext().spanId);
  assert.equal(attr(run3.x.calls[0][0], HINT), 'app_terminated');
  assert.equal(msOf(attr(run3.x.calls[0][0], LAST_SEEN)), clock.now - 20 * 60_000, 'last seen at the background');
  s.end();
});

test('nothing is written before the previous run was read (a slow getItem cannot lose it)', async (t) => {
  const store = storage();
  store.m.set('longspan.state', JSON.stringify({ v: 1, session: { id: 'a'.repeat(32), seen: clock.now }, open: [], prev: [] }));
  let release;
  const gate = new Promise((r) => (release = r));
  const slow = { ...store, getItem: async (k) => (await gate, store.getItem(k)), setItem: (k, v) => store.setItem(k, v) };
  const x = recorder();
  const p = new Clocked(x, { storage: slow, minAge: 0, interval: 3_600_000 });
  t.after(() => p.shutdown());
  const provider = new BasicTracerProvider({ spanProcessors: [p] });
  const s = provider.getTracer('t').startSpan('early');
  p._tick();
  s.end(); // would write the state now, before the read
  await new Promise((r) => setImmediate(r));
  assert.equal(store.writes, 0);
  release();
  await p.ready;
  assert.equal(p.sessionId, 'a'.repeat(32), 'stored session adopted');
  assert.equal(store.state().session.id, 'a'.repeat(32));
});

test('no crypto, no TextEncoder needed: ids from idGenerator or Math.random', async (t) => {
  const saved = ['crypto', 'TextEncoder'].map((k) => [k, Object.getOwnPropertyDescriptor(globalThis, k)]);
  for (const [k] of saved) Object.defineProperty(globalThis, k, { value: undefined, configurable: true, writable: true });
  t.after(() => {
    for (const [k, d] of saved) d ? Object.defineProperty(globalThis, k, d) : delete globalThis[k];
  });
  const a = await launch(storage());
  assert.match(a.p.sessionId, /^[0-9a-f]{32}$/);
  const b = await launch(storage(), { idGenerator: () => 'my-id' });
  assert.equal(b.p.sessionId, 'my-id');
  const s = a.tracer.startSpan('x');
  a.app.set('background');
  assert.equal(a.x.calls.length, 1);
  s.end();
  await a.p.shutdown();
  await b.p.shutdown();
});

test('shutdown removes the AppState listener and keeps storage', async () => {
  const store = storage();
  const { p, x, app, tracer } = await launch(store);
  const s = tracer.startSpan('x');
  app.set('background');
  await p.shutdown();
  assert.equal(app.listeners, 0);
  app.set('active');
  assert.equal(x.calls.length, 1);
  assert.equal(store.state().open.length, 1);
  s.end();
});
