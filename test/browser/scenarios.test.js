// End-to-end in a real browser: Debian's headless Chromium (playwright-core), a page bundling the
// real OpenTelemetry web SDK 2.x + OTLP/HTTP exporter + @otelcol-longspan/web, and the built
// collector on loopback (otlp -> longspan -> tail_sampling -> file). Run with node --test.
//
// Synchronisation is by polling the file exporter output and the spanjournal view with bounded
// waits. The only fixed waits: the ~300 ms unload grace between page.close() and closing the
// browser (scenario 2), and the collector's deliberate downtime (scenario 4).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  T,
  binary,
  chromiumPath,
  until,
  sleep,
  bundlePage,
  servePage,
  Collector,
  launchBrowser,
  openPage,
  describe as describeSpans,
} from './lib/harness.js';

let site;
const report = [];

before(async () => {
  assert.ok(existsSync(binary), `collector binary not found at ${binary} (run make build, or set LONGSPAN_BINARY)`);
  assert.ok(existsSync(chromiumPath), `Chromium not found at ${chromiumPath} (apt-get install chromium)`);
  site = await servePage(await bundlePage());
});

after(async () => {
  await site?.close();
  console.log('===== browser scenarios: spans observed (times relative to the scenario start) =====');
  for (const line of report.join('\n').split('\n')) console.log(line);
});

/** Runs one scenario with its own collector and browser, always cleaned up. */
async function withRig(name, opts, fn) {
  const collector = await Collector.create(name);
  let browser;
  try {
    await collector.validate();
    await collector.start();
    browser = await launchBrowser(opts);
    await fn({ collector, browser });
  } catch (e) {
    const lines = collector.log().split('\n').filter((l) => /\t(warn|error)\t/.test(l));
    console.log(`collector warnings/errors (${name}, ${collector.dir}):\n${lines.slice(-30).map((l) => '  ' + l.slice(0, 400)).join('\n')}`);
    throw e;
  } finally {
    await browser?.close();
    await collector.stop('SIGTERM');
    collector.cleanup();
  }
}

const ofTrace = (spans, traceId) => spans.filter((s) => s.traceId === traceId);
const byId = (spans, spanId) => spans.filter((s) => s.spanId === spanId);

/** Waits until the spanjournal view shows span `spanId` open (and optionally >= held spans). */
async function waitOpen(collector, spanId, heldAtLeast = 0) {
  return until(`open span ${spanId} with >= ${heldAtLeast} held spans in /v1/open-spans`, async () => {
    try {
      const v = await collector.openSpans();
      const o = v.open_spans.find((s) => s.span_id === spanId);
      return o && v.held_spans >= heldAtLeast ? { view: v, open: o } : false;
    } catch {
      return false;
    }
  });
}

/** Waits for the trace's page.session to appear in the sampled output, then for its batch. */
async function waitFinal(collector, traceId, sessionSpanId, timeoutMs = 20000) {
  return until(
    `page.session ${sessionSpanId} after tail_sampling`,
    () => {
      const spans = ofTrace(collector.spans('sampled'), traceId);
      return byId(spans, sessionSpanId).length ? spans : false;
    },
    timeoutMs,
  );
}

function record(title, lines, t0) {
  report.push(`--- ${title}`, describeSpans(lines, t0));
}

test('1. long page.session with ended children: snapshots reach the output while it runs', async () => {
  await withRig('s1', {}, async ({ collector, browser }) => {
    const { page, errors } = await openPage(browser.browser, site.origin, collector, 's1');
    const t0 = Date.now();
    const session = await page.evaluate(() => app.start());
    const kids = [await page.evaluate(() => app.child('page.load')), await page.evaluate(() => app.child('api.cart'))];
    const sessionId = await page.evaluate(() => app.sessionId);

    // The collector holds the children (acknowledged, journaled) while the session is open.
    const first = await waitOpen(collector, session.spanId, 2);
    assert.equal(first.open.name, 'page.session');
    assert.equal(first.open.session_id, sessionId, 'session.id stamped by the processor');

    // The client keeps reporting the open span (periodic snapshot every 1s): last_seen advances.
    const seen0 = Date.parse(first.open.last_seen);
    await until('a newer client snapshot (last_seen advances)', async () => {
      const o = (await collector.openSpans()).open_spans.find((s) => s.span_id === session.spanId);
      return o && Date.parse(o.last_seen) > seen0;
    });

    // Snapshots reach the live output while the span runs: >= 3, increasing seq, end = "now".
    const snaps = await until('>= 3 snapshots of page.session in the live output', () => {
      const s = byId(collector.spans('live'), session.spanId).filter((x) => x.state === 'snapshot');
      return s.length >= 3 ? s : false;
    });
    const stillOpen = await page.evaluate(() => true); // the session has not ended: we never called app.end()
    assert.ok(stillOpen);
    const seqs = snaps.map((s) => s.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'snapshot seq increases');
    assert.ok(new Set(seqs).size === seqs.length, 'snapshot seq unique');
    for (const s of snaps) {
      assert.ok(s.endMs >= s.startMs && s.endMs <= Date.now() + 50, 'snapshot end = the collector time it was taken');
      assert.equal(s.traceId, session.traceId);
    }
    // Nothing of the trace has passed tail sampling yet (children are held with the open span).
    assert.equal(ofTrace(collector.spans('sampled'), session.traceId).length, 0, 'no span of the open trace was sampled yet');

    const endMs = await page.evaluate(() => app.end());
    const final = await waitFinal(collector, session.traceId, session.spanId);
    await until('children next to page.session', () => {
      const s = ofTrace(collector.spans('sampled'), session.traceId);
      return kids.every((k) => byId(s, k.spanId).length) ? s : false;
    });
    const out = ofTrace(collector.spans('sampled'), session.traceId);
    const ps = byId(out, session.spanId);
    assert.equal(ps.length, 1);
    assert.equal(ps[0].state, '', 'ended normally: no longspan.state');
    assert.equal(ps[0].closeReason, '');
    assert.ok(Math.abs(ps[0].endMs - endMs) < 50, `end ${ps[0].endMs} vs page end ${endMs}`);
    for (const k of kids) {
      const c = byId(out, k.spanId);
      assert.equal(c.length, 1, `child ${k.spanId} once`);
      assert.equal(c[0].parentSpanId, session.spanId);
      assert.equal(c[0].line, ps[0].line, 'children leave tail sampling in the same batch as page.session');
    }
    assert.ok(!out.some((s) => s.state === 'snapshot'), 'no snapshot reached tail sampling');
    assert.deepEqual(errors, []);
    record('scenario 1 (live snapshots, then normal end) — live output', snaps, t0);
    record('scenario 1 — sampled output', out, t0);
    void final;
  });
});

test('2. tab closed (page.close): unload snapshot arrives, reconciled client_interrupted at unload time', async () => {
  await withRig('s2', {}, async ({ collector, browser }) => {
    const { page } = await openPage(browser.browser, site.origin, collector, 's2');
    const t0 = Date.now();
    const session = await page.evaluate(() => app.start());
    const kids = [await page.evaluate(() => app.child('ui.click')), await page.evaluate(() => app.child('api.checkout'))];
    await waitOpen(collector, session.spanId, 2);
    await until('a collector snapshot in the live output', () => byId(collector.spans('live'), session.spanId).length > 0);
    const lastPeriodic = Date.parse((await collector.openSpans()).open_spans.find((s) => s.span_id === session.spanId).last_seen);

    const closeStart = Date.now();
    await page.close(); // pagehide(persisted=false) -> visibilitychange(hidden), in one task
    const closeEnd = Date.now();
    await sleep(300); // unload grace: let the keepalive request leave before the browser goes away
    await browser.close();

    // (The unload request itself is not visible to Playwright's network events once the page is
    // closing; close_reason=client_interrupted below is only set for a snapshot carrying the
    // longspan.client.hint=page_unload attribute, and its end time is that request's receipt.)
    const out = await waitFinal(collector, session.traceId, session.spanId);
    const detected = Date.now();
    await until('children next to page.session', () => {
      const s = ofTrace(collector.spans('sampled'), session.traceId);
      return kids.every((k) => byId(s, k.spanId).length) ? s : false;
    });
    const all = ofTrace(collector.spans('sampled'), session.traceId);
    const ps = byId(all, session.spanId);
    assert.equal(ps.length, 1);
    assert.equal(ps[0].state, 'reconciled');
    assert.equal(ps[0].closeReason, 'client_interrupted');
    assert.equal(ps[0].status, 2, 'status Error');
    // end = receipt time of the unload snapshot: after page.close() began, not the last periodic snapshot
    assert.ok(ps[0].endMs >= closeStart - 5, `end ${ps[0].endMs} before close started ${closeStart}`);
    assert.ok(ps[0].endMs <= closeEnd + 300, `end ${ps[0].endMs} later than close ${closeEnd} + 300ms`);
    assert.ok(ps[0].endMs > lastPeriodic, 'end is the unload time, not the last periodic snapshot');
    assert.ok(detected - closeEnd < T.idleTimeout, 'closed at once, not after idle_timeout');
    for (const k of kids) {
      const c = byId(all, k.spanId);
      assert.equal(c.length, 1);
      assert.equal(c[0].line, ps[0].line, 'children leave tail sampling with the reconciled span');
    }
    record(`scenario 2 (page.close at +${closeStart - t0}..+${closeEnd - t0}ms) — sampled output`, all, t0);
    void out;
  });
});

test('3. browser killed (SIGKILL): reconciled after idle_timeout, end = last snapshot time', async () => {
  await withRig('s3', {}, async ({ collector, browser }) => {
    const { page } = await openPage(browser.browser, site.origin, collector, 's3');
    const t0 = Date.now();
    const session = await page.evaluate(() => app.start());
    const kids = [await page.evaluate(() => app.child('nav.route')), await page.evaluate(() => app.child('api.search'))];
    await waitOpen(collector, session.spanId, 2);
    // wait for two client reports so the last one is a periodic snapshot
    const seen0 = Date.parse((await collector.openSpans()).open_spans.find((s) => s.span_id === session.spanId).last_seen);
    await until('a periodic client snapshot', async () => {
      const o = (await collector.openSpans()).open_spans.find((s) => s.span_id === session.spanId);
      return o && Date.parse(o.last_seen) > seen0;
    });
    const seenBeforeKill = Date.parse((await collector.openSpans()).open_spans.find((s) => s.span_id === session.spanId).last_seen);

    const killAt = Date.now();
    browser.kill(); // SIGKILL to Chromium's process group: no pagehide, nothing flushed

    await waitFinal(collector, session.traceId, session.spanId, T.idleTimeout + 15000);
    const detected = Date.now();
    await until('children next to page.session', () => {
      const s = ofTrace(collector.spans('sampled'), session.traceId);
      return kids.every((k) => byId(s, k.spanId).length) ? s : false;
    });
    const all = ofTrace(collector.spans('sampled'), session.traceId);
    const ps = byId(all, session.spanId);
    assert.equal(ps.length, 1);
    assert.equal(ps[0].state, 'reconciled');
    assert.equal(ps[0].closeReason, 'idle_timeout');
    assert.equal(ps[0].status, 2);
    // end = the last time the client was seen: the last periodic snapshot before the kill
    // (>= the one we observed, <= the kill; the view's last_seen is second-rounded RFC 3339 at worst)
    assert.ok(ps[0].endMs >= seenBeforeKill - 1000, `end ${ps[0].endMs} < last seen before kill ${seenBeforeKill}`);
    assert.ok(ps[0].endMs <= killAt + 50, `end ${ps[0].endMs} after the kill ${killAt}`);
    assert.ok(killAt - ps[0].endMs <= T.snapshotInterval + 500, 'end is within one snapshot interval of the kill');
    if (ps[0].lastSeenMs !== undefined) assert.ok(Math.abs(ps[0].lastSeenMs - ps[0].endMs) < 1, 'end = longspan.last_seen_unix_nano');
    assert.ok(detected - ps[0].endMs >= T.idleTimeout - 50, 'reconciled only after idle_timeout of silence');
    for (const k of kids) assert.equal(byId(all, k.spanId)[0]?.line, ps[0].line, 'children released with it');
    record(`scenario 3 (SIGKILL at +${killAt - t0}ms, reconciled seen at +${detected - t0}ms) — sampled output`, all, t0);
  });
});

test('4. collector down mid-session and back: nothing acknowledged lost, no false reconciliation', async () => {
  await withRig('s4', {}, async ({ collector, browser }) => {
    const { page } = await openPage(browser.browser, site.origin, collector, 's4');
    const t0 = Date.now();
    const session = await page.evaluate(() => app.start());
    const acked = [await page.evaluate(() => app.child('before.1')), await page.evaluate(() => app.child('before.2'))];
    // acknowledged = the open span and both children are in the journal (view)
    await waitOpen(collector, session.spanId, 2);
    await until('a collector snapshot in the live output', () => byId(collector.spans('live'), session.spanId).length > 0);

    await collector.stop('SIGKILL');
    const downAt = collector.stoppedAt;
    const during = await page.evaluate(() => app.child('during.1')); // exporter retries while the collector is down
    await sleep(T.idleTimeout + 2000); // the outage: longer than idle_timeout
    await collector.start(); // same journal directory, same port
    const upAt = collector.startedAt;

    // the client's snapshots reach the restarted collector; the session is still open
    await until('a client snapshot after the restart', async () => {
      try {
        const o = (await collector.openSpans()).open_spans.find((s) => s.span_id === session.spanId);
        return o && Date.parse(o.last_seen) >= upAt - 1000;
      } catch {
        return false;
      }
    });
    const after1 = await page.evaluate(() => app.child('after.1'));
    await waitOpen(collector, session.spanId, 3);
    const endMs = await page.evaluate(() => app.end());

    await waitFinal(collector, session.traceId, session.spanId);
    const all = await until('every acknowledged child after tail sampling', () => {
      const s = ofTrace(collector.spans('sampled'), session.traceId);
      return [...acked, after1].every((k) => byId(s, k.spanId).length) ? s : false;
    });
    const ps = byId(all, session.spanId);
    assert.equal(ps.length, 1, 'page.session once, not a reconciled copy as well');
    assert.equal(ps[0].state, '', 'ended normally');
    assert.equal(ps[0].closeReason, '', 'no longspan.close_reason');
    assert.ok(Math.abs(ps[0].endMs - endMs) < 50);
    assert.ok(!all.some((s) => s.state === 'reconciled'), 'no false reconciliation in the trace');
    for (const k of [...acked, after1]) assert.equal(byId(all, k.spanId)[0].parentSpanId, session.spanId);
    const duringSeen = byId(all, during.spanId).length > 0;
    record(
      `scenario 4 (collector SIGKILLed at +${downAt - t0}ms, back at +${upAt - t0}ms; child during.1 ${duringSeen ? 'delivered by the exporter retry' : 'not delivered (never acknowledged)'}) — sampled output`,
      all,
      t0,
    );
  });
});

test('5. back/forward cache (persisted=true): not reconciled, ends normally', async () => {
  await withRig('s5', { bfcache: true }, async ({ collector, browser }) => {
    let { page, url, requests } = await openPage(browser.browser, site.origin, collector, 's5');
    let t0 = Date.now();
    let session = await page.evaluate(() => app.start());
    let kid = await page.evaluate(() => app.child('view.product'));
    await waitOpen(collector, session.spanId, 1);
    await until('a collector snapshot in the live output', () => byId(collector.spans('live'), session.spanId).length > 0);

    // Real back/forward cache: navigate to another page of the site, then back. (Playwright
    // passes --disable-back-forward-cache by default; launchBrowser({bfcache: true}) drops it.)
    const leftAt = Date.now();
    await page.click('#next');
    await page.waitForURL('**/other.html');
    await page.goBack({ waitUntil: 'commit' }); // a bfcache restore fires pageshow, not load
    await page.waitForURL(url, { waitUntil: 'commit' });
    await page
      .waitForFunction(() => window.app && app.log.some((l) => l.startsWith('pageshow persisted=true')), null, { timeout: 5000 })
      .catch(() => {});
    const restored = await page.evaluate(() => !!window.app && app.log.includes('pagehide persisted=true') && app.log.includes('pageshow persisted=true')).catch(() => false);
    let mode;
    if (restored) {
      mode = 'real back/forward cache: pagehide persisted=true, page frozen, pageshow persisted=true';
    } else {
      // Fallback if this Chromium does not use the bfcache: the page was reloaded and its session
      // lost; start again and dispatch a real PageTransitionEvent('pagehide', {persisted: true})
      // (and the matching pageshow) in the page.
      mode = 'fallback: headless Chromium did not use the back/forward cache; dispatched pagehide/pageshow persisted=true in the page';
      ({ page, url, requests } = await openPage(browser.browser, site.origin, collector, 's5'));
      t0 = Date.now();
      session = await page.evaluate(() => app.start());
      kid = await page.evaluate(() => app.child('view.product'));
      await waitOpen(collector, session.spanId, 1);
      await page.evaluate(() => {
        dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true }));
        dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));
      });
    }
    const log = await page.evaluate(() => app.log.slice());

    // Snapshots the page sent from leaving on (the pagehide one among them): open (end 0), and
    // none carries the page_unload hint.
    const sentAfter = await until('a snapshot request of page.session after leaving', () => {
      const r = requests.filter((x) => x.at >= leftAt && x.body.includes(session.spanId) && x.body.includes('"endTimeUnixNano":"0"'));
      return r.length ? r : false;
    });
    assert.ok(sentAfter.every((r) => !r.body.includes('longspan.client.hint')), 'no page_unload hint when persisted=true');
    const hide = sentAfter[0];

    // The session stays open at the collector, and the client reports it again after the return.
    const back = Date.now();
    await until('a client snapshot after the return', async () => {
      const o = (await collector.openSpans()).open_spans.find((s) => s.span_id === session.spanId);
      return o && Date.parse(o.last_seen) >= back;
    });
    const endMs = await page.evaluate(() => app.end());
    await waitFinal(collector, session.traceId, session.spanId);
    const all = await until('child next to page.session', () => {
      const s = ofTrace(collector.spans('sampled'), session.traceId);
      return byId(s, kid.spanId).length ? s : false;
    });
    const ps = byId(all, session.spanId);
    assert.equal(ps.length, 1);
    assert.equal(ps[0].state, '', 'not reconciled');
    assert.equal(ps[0].closeReason, '');
    assert.ok(Math.abs(ps[0].endMs - endMs) < 50, `end ${ps[0].endMs} vs page end ${endMs}`);
    assert.ok(!all.some((s) => s.state === 'reconciled'));
    assert.equal(byId(all, kid.spanId)[0].line, ps[0].line);
    record(`scenario 5 (${mode}; page events: ${log.join(', ')}; pagehide snapshot ${hide.bytes} bytes, no hint) — sampled output`, all, t0);
  });
});
