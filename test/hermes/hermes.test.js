// End-to-end on the real engine: the React Native client (@otelcol-longspan/react-native) with the
// OTel JS SDK 2.x, built the way a React Native app is (lib/build.js), run as two app launches on
// the Hermes VM (hermes-engine-cli 0.12.0) on a virtual clock, the OTLP/JSON requests it produced
// posted in order to the built collector, and the collector's file exporter output checked.
//
// Launch 1 (virtual time starts 40 min ago): app.session + screen.checkout open, api.cart ended;
// a periodic snapshot; background 60 s (short) and back; background 16 min (long: new session,
// the app ends app.session #1 and starts #2) and back; two more periodic snapshots; then the
// process is killed (it just ends: no background event, no shutdown).
// Launch 2 (2 min later, same storage): the previous run's open spans are reported at once
// (app_terminated, last_seen), the session id is restored, a new app.session starts.
//
// Synchronisation: polling the collector's output with bounded waits; no fixed sleeps.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleApp, hermescCheck, runLaunch, hermesBin, hermescBin } from './lib/build.js';
import { Collector, binary, until } from './lib/collector.js';

const HINT = 'longspan.client.hint';
const NOW = 'longspan.client.now_unix_nano';
const LAST_SEEN = 'longspan.client.last_seen_unix_nano';

let dir;
let stable;
let legacy;
let l1;
let l2;
let collector;
const report = [];

/** OTLP AnyValue -> JS (ints as BigInt-safe strings compared via Number of ms). */
const val = (v) => (v.stringValue ?? v.intValue ?? v.doubleValue ?? v.boolValue);
const attrsOf = (s) => Object.fromEntries((s.attributes || []).map((a) => [a.key, val(a.value)]));
/** Spans of a request body, flattened with their attributes. */
const spansOf = (req) => {
  const out = [];
  for (const rs of JSON.parse(req.body).resourceSpans || [])
    for (const ss of rs.scopeSpans || []) for (const s of ss.spans || []) out.push({ ...s, attrs: attrsOf(s) });
  return out;
};
const nsToMs = (ns) => Math.round(Number(ns) / 1e6); // ms x 1e6 as a double: within 128 ns of the exact value
const step = (launch, name) => launch.requests.filter((r) => r.step === name);
const open = (req) => spansOf(req).filter((s) => s.endTimeUnixNano === '0');

before(async () => {
  assert.ok(existsSync(hermesBin), `${hermesBin} missing (npm ci in test/hermes)`);
  assert.ok(existsSync(hermescBin), `${hermescBin} missing (npm ci in test/hermes)`);
  assert.ok(existsSync(binary), `collector binary not found at ${binary} (make build, or set LONGSPAN_BINARY)`);
  dir = mkdtempSync(join(tmpdir(), 'longspan-hermes-app-'));
  const t0 = Date.now();
  const stableJs = await bundleApp('hermes-stable');
  const legacyJs = await bundleApp('default');
  writeFileSync(join(dir, 'bundle-hermes-stable.js'), stableJs);
  writeFileSync(join(dir, 'bundle-legacy.js'), legacyJs);
  stable = await hermescCheck(join(dir, 'bundle-hermes-stable.js'));
  legacy = await hermescCheck(join(dir, 'bundle-legacy.js'));
  const start = Date.now() - 40 * 60 * 1000;
  const url = 'http://collector.invalid/v1/traces'; // the app never reaches it: node posts the bodies
  l1 = await runLaunch(legacyJs, dir, { launch: 1, startMs: start, storage: {}, otlpUrl: url });
  const l1End = l1.requests.length ? Math.max(...l1.requests.map((r) => r.at)) : start;
  l2 = await runLaunch(legacyJs, dir, { launch: 2, startMs: l1End + 2 * 60 * 1000 + 2000, storage: l1.result.storage, otlpUrl: url });
  report.push(`built and ran 2 launches on Hermes in ${Date.now() - t0} ms; hermesc ${stable.version}: ${stable.bytes} B (hermes-stable), ${legacy.bytes} B (legacy)`);
  for (const [n, l] of [['launch 1', l1], ['launch 2', l2]])
    for (const r of l.requests)
      report.push(`${n} ${r.step.padEnd(24)} +${((r.at - start) / 1000).toFixed(0).padStart(5)}s ` + spansOf(r).map((s) => `${s.name}${s.endTimeUnixNano === '0' ? '(open' + (s.attrs[HINT] ? ' ' + s.attrs[HINT] : '') + ')' : ''}`).join(', '));
  collector = await Collector.create('hermes');
  await collector.validate();
  await collector.start();
});

after(async () => {
  await collector?.stop('SIGTERM');
  collector?.cleanup();
  if (dir && !process.env.KEEP_TMP) rmSync(dir, { recursive: true, force: true });
  console.log('===== Hermes: requests the app produced =====\n' + report.join('\n'));
});

test('the app is built for React Native: hermes-stable compiles with hermesc, the legacy build runs on Hermes 0.12 with no crypto, TextEncoder, document or class syntax', () => {
  assert.ok(stable.bytes > 10000 && legacy.bytes > 10000);
  assert.deepEqual(l1.result.env, { crypto: 'undefined', TextEncoder: 'undefined', document: 'undefined', classSyntax: l1.result.env.classSyntax });
  assert.match(l1.result.env.classSyntax, /^unsupported/, 'this VM has no class syntax: the preset lowered every class');
  assert.deepEqual(l1.console.filter((l) => /^(warn|error)/.test(l)), [], 'no SDK warnings or errors on Hermes');
});

test('on Hermes: app_background / active snapshots, now_unix_nano on every open span, session ids', () => {
  const [s1, s2] = l1.result.sessions;
  const A = s1.sessionId;
  const B = s2.sessionId;
  assert.match(A, /^[0-9a-f]{32}$/);
  assert.match(B, /^[0-9a-f]{32}$/);
  assert.notEqual(A, B, 'a new session after the 16 min background');
  // Every open span of every request carries the client clock at send time.
  for (const l of [l1, l2])
    for (const r of l.requests)
      for (const s of open(r)) assert.equal(nsToMs(s.attrs[NOW]), r.at, `${r.step}: ${s.name} now_unix_nano`);
  const periodic = step(l1, 'periodic-1').map(open).find((x) => x.length);
  assert.deepEqual(periodic.map((s) => s.name).sort(), ['app.session', 'screen.checkout']);
  assert.ok(periodic.every((s) => s.attrs[HINT] === undefined));
  const bg = step(l1, 'background-short').map(open);
  assert.equal(bg.length, 1, 'one request on background');
  assert.deepEqual(bg[0].map((s) => [s.name, s.attrs[HINT], s.attrs['session.id']]), [
    ['app.session', 'app_background', A],
    ['screen.checkout', 'app_background', A],
  ]);
  const back = step(l1, 'active-short').map(open)[0];
  assert.deepEqual(back.map((s) => [s.name, s.attrs[HINT], s.attrs['session.id']]), [
    ['app.session', undefined, A],
    ['screen.checkout', undefined, A],
  ], 'back after 60 s: no hint, same session');
  const long = step(l1, 'active-long').map(open)[0];
  const session2 = long.find((s) => s.spanId === s2.spanId);
  assert.equal(session2.attrs['session.id'], B, 'after 16 min: the new session span carries the new id');
  assert.equal(session2.attrs[HINT], undefined);
  const ended1 = l1.requests.flatMap(spansOf).find((s) => s.spanId === s1.spanId && s.endTimeUnixNano !== '0');
  assert.ok(ended1, 'the app ended app.session #1 on the session change (BatchSpanProcessor)');
});

test('on Hermes: the next launch reports the killed run\'s open spans at once as app_terminated with last_seen, and keeps the session', () => {
  const [, s2] = l1.result.sessions;
  const lastWrite = JSON.parse(l1.result.storage['longspan.state']).session.seen;
  const first = l2.requests[0];
  assert.equal(first.step, 'launch', 'the first request of launch 2 is the report, before any new span');
  const rep = open(first);
  assert.deepEqual(rep.map((s) => s.spanId).sort(), [s2.spanId, l1.result.checkout].sort());
  for (const s of rep) {
    assert.equal(s.attrs[HINT], 'app_terminated');
    assert.equal(nsToMs(s.attrs[LAST_SEEN]), lastWrite, 'last seen = the killed run\'s last write');
    assert.ok(lastWrite >= Math.max(...step(l1, 'periodic-3').map((r) => r.at)));
  }
  assert.ok(rep.find((s) => s.spanId === l1.result.checkout).events.some((e) => e.name === 'payment.started'), 'with its last-known events');
  assert.equal(l2.result.restored, s2.sessionId, 'session restored from storage (2 min < 15 min)');
  assert.equal(l2.result.sessions[0].sessionId, s2.sessionId);
  assert.deepEqual(JSON.parse(l2.result.storage['longspan.state']).prev, [], 'reported spans left storage');
});

async function post(r) {
  const res = await fetch(collector.otlpUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: r.body });
  assert.equal(res.status, 200, `POST ${r.step}: ${res.status} ${await res.text()}`);
}

/** The collector's latest snapshot (live output) of span `spanId` whose now_unix_nano is `nowMs`. */
function snapshotWithNow(spanId, nowMs) {
  return collector
    .spans('live')
    .filter((s) => s.spanId === spanId && s.state === 'snapshot' && s.attrs[NOW] !== undefined && Math.round(Number(s.attrs[NOW]) / 1e6) === nowMs)
    .pop();
}

test('at the collector: the requests from Hermes are accepted; app_background and active snapshots arrive; the app_terminated report arrives with the previous run\'s spans', async () => {
  const [s1, s2] = l1.result.sessions;
  for (const r of l1.requests) {
    await post(r);
    if (r.step === 'background-short' || r.step === 'active-short') {
      const snap = await until(`collector snapshot of app.session after ${r.step}`, () => snapshotWithNow(s1.spanId, r.at));
      assert.equal(snap.attrs[HINT], r.step === 'background-short' ? 'app_background' : undefined);
      assert.equal(snap.attrs['session.id'], s1.sessionId);
      report.push(`collector: ${r.step} -> snapshot seq=${snap.seq} hint=${snap.attrs[HINT] ?? '-'} session.id=${snap.attrs['session.id'].slice(0, 8)}`);
    }
  }
  const lastPeriodic = step(l1, 'periodic-3').at(-1);
  const snap2 = await until('collector snapshot of app.session #2', () => snapshotWithNow(s2.spanId, lastPeriodic.at));
  assert.equal(snap2.attrs['session.id'], s2.sessionId);

  // Launch 2: the report of the killed run.
  const [rep, ...rest] = l2.requests;
  await post(rep);
  // The collector closes it at once (client_interrupted), ending when the dead run last
  // knew it open, in the client's clock.
  const seen = await until('app.session #2 reconciled from the app_terminated report', () =>
    collector.spans('sampled').find((s) => s.spanId === s2.spanId && s.state === 'reconciled'),
  );
  assert.equal(seen.attrs[HINT], 'app_terminated');
  assert.ok(seen.attrs[LAST_SEEN] !== undefined);
  assert.equal(seen.attrs['session.id'], s2.sessionId);
  assert.equal(seen.closeReason, 'client_interrupted');
  assert.ok(Math.abs(seen.endMs - Number(BigInt(String(seen.attrs[LAST_SEEN])) / 1000000n)) <= 1,
    `ends at the client's last seen (${seen.endMs} vs ${seen.attrs[LAST_SEEN]})`);
  report.push(`collector: app_terminated report -> ${seen.state}${seen.closeReason ? ' ' + seen.closeReason : ''} hint=${seen.attrs[HINT]}`);
  for (const r of rest) await post(r);

  // The relaunched app's new session span: open at the collector with the restored session id.
  const s3 = l2.result.sessions[0];
  const row = await until('launch 2 app.session in /v1/open-spans', async () => (await collector.openSpans()).open_spans.find((o) => o.span_id === s3.spanId));
  assert.equal(row.session_id, s2.sessionId, 'the session id survived the kill');
  const after = snapshotWithNow(s3.spanId, step(l2, 'periodic-after-relaunch').at(-1).at) ||
    (await until('snapshot of launch 2 app.session', () => snapshotWithNow(s3.spanId, step(l2, 'periodic-after-relaunch').at(-1).at)));
  assert.ok(after.attrs[NOW] !== undefined, 'now_unix_nano reaches the output');
});
