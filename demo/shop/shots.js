// make demo-shots: drives the running demo (demo/run.sh shots started Jaeger, the collector and
// the shop) with Debian's headless Chromium through playwright-core, as test/browser does:
//
//   A  a live page session: cart, checkout started and left open      -> snapshots in Jaeger
//   B  a tab closed mid-checkout (pagehide, not persisted)            -> client_interrupted
//   C  a browser killed (SIGKILL, nothing flushed)                    -> idle_timeout (30s)
//
// then checks what Jaeger's API (/api/traces) returns for each and takes screenshots of the
// Jaeger UI into SHOTS_DIR (docs/). Exits 1 when a check fails.
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const JAEGER = process.env.JAEGER_URL || 'http://127.0.0.1:16686';
const SHOP = process.env.SHOP_URL || 'http://127.0.0.1:8080';
const OPEN_SPANS = 'http://127.0.0.1:55690/v1/open-spans';
const SHOTS = process.env.SHOTS_DIR || 'docs';
const IDLE_TIMEOUT_MS = 30000; // demo/otelcol-demo.yaml
const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const t0 = Date.now();
const say = (m) => console.log(`>> demo-shots +${((Date.now() - t0) / 1000).toFixed(0)}s: ${m}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, timeoutMs, everyMs = 500) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
    } catch (e) {
      last = undefined;
    }
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(everyMs);
  }
}

async function launch() {
  // A browser server per "machine", so C can be SIGKILLed with its whole process group.
  const server = await chromium.launchServer({ executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium', headless: true, args: chromiumArgs });
  const browser = await chromium.connect(server.wsEndpoint());
  const pid = server.process().pid;
  return {
    browser,
    kill() {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        server.process().kill('SIGKILL');
      }
    },
    async close() {
      await browser.close().catch(() => {});
      await server.close().catch(() => {});
    },
  };
}

async function openShop(browser) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await page.goto(`${SHOP}/`);
  await page.waitForFunction(() => document.body.dataset.ready === '1' && window.shop);
  return { ctx, page, ids: await page.evaluate(() => ({ ...window.shop })) };
}

const openSpans = async () => (await fetch(OPEN_SPANS)).json();
const isOpen = async (spanId) => (await openSpans()).open_spans.find((s) => s.span_id === spanId);

// ---- Jaeger's API ----------------------------------------------------------------------------------
async function jaegerTrace(traceId) {
  const r = await fetch(`${JAEGER}/api/traces/${traceId}`);
  if (!r.ok) return null;
  const t = (await r.json()).data?.[0];
  if (!t) return null;
  return t.spans.map((s) => {
    const tags = Object.fromEntries((s.tags || []).map((x) => [x.key, x.value]));
    return { ...s, tag: tags, parent: (s.references || []).find((r) => r.refType === 'CHILD_OF')?.spanID || '' };
  });
}
const named = (spans, n) => spans.filter((s) => s.operationName === n);

const failures = [];
function check(ok, what) {
  console.log(`   ${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

// ---- the Jaeger UI ----------------------------------------------------------------------------------
async function shot(page, name) {
  const path = join(SHOTS, name);
  await page.screenshot({ path });
  say(`wrote ${path}`);
}

let live, closer, killed, viewer;
try {
  mkdirSync(SHOTS, { recursive: true });
  live = await launch();

  // A: live session with a checkout left open.
  const A = await openShop(live.browser);
  await A.page.click('#add-espresso');
  await A.page.click('#add-grinder');
  await A.page.click('#to-checkout');
  A.checkout = await A.page.evaluate(() => window.shop.checkoutSpanId());
  say(`A (live) page.session trace ${A.ids.traceId}`);

  // B: a tab that is closed mid-checkout.
  const B = await openShop(live.browser);
  await B.page.click('#add-filter');
  await B.page.click('#add-mug');
  await B.page.click('#to-checkout');
  B.checkout = await B.page.evaluate(() => window.shop.checkoutSpanId());
  say(`B (tab closed mid-checkout) trace ${B.ids.traceId}`);

  // C: another browser ("machine"), killed.
  killed = await launch();
  const C = await openShop(killed.browser);
  await C.page.click('#add-filter');
  say(`C (browser killed) trace ${C.ids.traceId}`);

  await until('the three page sessions open at the collector', async () => (await isOpen(A.ids.spanId)) && (await isOpen(B.ids.spanId)) && (await isOpen(C.ids.spanId)), 30000);
  await until("B's checkout open at the collector", () => isOpen(B.checkout), 30000);

  await B.page.close(); // pagehide(persisted=false): the unload snapshot carries page_unload
  await sleep(500);
  say('B: tab closed');
  const seen = Date.parse((await isOpen(C.ids.spanId)).last_seen);
  await until("C's next periodic report", async () => Date.parse((await isOpen(C.ids.spanId)).last_seen) > seen, 20000);
  killed.kill();
  const killedAt = Date.now();
  say('C: browser killed (SIGKILL)');

  // ---- checks against /api/traces --------------------------------------------------------------
  const tB = await until("B's reconciled trace in Jaeger", async () => {
    const s = await jaegerTrace(B.ids.traceId);
    return s && named(s, 'page.session').some((x) => x.tag['longspan.state'] === 'reconciled') && named(s, 'cart.add').length >= 2 ? s : null;
  }, 30000);
  say('B in Jaeger:');
  {
    const ps = named(tB, 'page.session').find((x) => x.tag['longspan.state'] === 'reconciled');
    const co = named(tB, 'checkout').find((x) => x.tag['longspan.state'] === 'reconciled');
    check(ps.tag['longspan.close_reason'] === 'client_interrupted', `page.session close_reason=client_interrupted (${ps.tag['longspan.close_reason']})`);
    check(ps.tag['otel.status_code'] === 'ERROR' || ps.tag.error === true, 'page.session status Error');
    check(!!ps.tag['longspan.last_seen_unix_nano'] && ps.tag['longspan.source'] === 'otlp_open_span', 'page.session longspan.last_seen_unix_nano, longspan.source=otlp_open_span');
    check(!!co && ['client_interrupted', 'parent_reconciled'].includes(co.tag['longspan.close_reason']), `checkout reconciled (${co?.tag['longspan.close_reason']})`);
    check(named(tB, 'cart.add').length === 2 && named(tB, 'cart.add').every((x) => x.parent === B.ids.spanId), 'both cart.add spans, children of page.session');
    check(tB.every((x) => !(x.warnings || []).length), `no span warnings (${tB.flatMap((x) => x.warnings || []).join('; ') || 'none'})`);
  }

  const tA = await until("A's snapshots in Jaeger (3 rounds)", async () => {
    const s = await jaegerTrace(A.ids.traceId);
    return s && named(s, 'page.session').filter((x) => x.tag['longspan.state'] === 'snapshot').length >= 3 ? s : null;
  }, 60000);
  say('A in Jaeger:');
  {
    const snaps = named(tA, 'page.session');
    const seqs = snaps.map((x) => x.tag['longspan.snapshot.seq']);
    check(snaps.every((x) => x.tag['longspan.state'] === 'snapshot'), `only snapshots of page.session while it is open (${snaps.length}, seq ${seqs.join(',')})`);
    check(new Set(tA.map((x) => x.spanID)).size === tA.length, 'every span id once in the trace (snapshot_span_ids: unique)');
    check(snaps.every((x) => x.tag['longspan.snapshot.span_id'] === A.ids.spanId), 'each snapshot names the open span in longspan.snapshot.span_id');
    const cs = named(tA, 'checkout');
    check(cs.length > 0 && cs.every((c) => snaps.some((p) => p.spanID === c.parent && p.tag['longspan.snapshot.seq'] !== undefined)), `checkout snapshots under a page.session snapshot (${cs.length})`);
    check(tA.every((x) => !(x.warnings || []).length), `no span warnings (${tA.flatMap((x) => x.warnings || []).join('; ') || 'none'})`);
  }

  const tC = await until("C's idle_timeout reconciliation in Jaeger", async () => {
    const s = await jaegerTrace(C.ids.traceId);
    return s && named(s, 'page.session').some((x) => x.tag['longspan.state'] === 'reconciled') ? s : null;
  }, IDLE_TIMEOUT_MS + 30000);
  say(`C in Jaeger (${((Date.now() - killedAt) / 1000).toFixed(0)}s after the kill):`);
  {
    const ps = named(tC, 'page.session').find((x) => x.tag['longspan.state'] === 'reconciled');
    check(ps.tag['longspan.close_reason'] === 'idle_timeout', `page.session close_reason=idle_timeout (${ps.tag['longspan.close_reason']})`);
    check(named(tC, 'cart.add').length === 1, 'its cart.add span');
  }

  // ---- screenshots of the Jaeger UI -----------------------------------------------------------
  viewer = await launch();
  const ui = await (await viewer.browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
  await ui.goto(`${JAEGER}/search?service=demo-shop&lookback=1h&limit=20`);
  await ui.waitForSelector('.ResultItem', { timeout: 30000 });
  await sleep(500);
  await shot(ui, 'demo-search.png');

  // A trace with every row expanded and one span's detail open, its tags expanded. The span
  // is found by uiFind=<its span id> (a snapshot), or as the page.session row with the error
  // icon (a reconciled span: its id is also in its snapshots' longspan.snapshot.span_id).
  const spanShot = async (traceId, spanId, name) => {
    await ui.goto(`${JAEGER}/trace/${traceId}${spanId ? `?uiFind=${spanId}` : ''}`);
    await ui.locator('.span-row').first().waitFor({ timeout: 30000 });
    await ui.locator('.TimelineCollapser svg').nth(2).click(); // Expand All
    await sleep(500);
    const row = spanId
      ? ui.locator('.span-row.is-matching-filter').first()
      : ui.locator('.span-row', { has: ui.locator('.endpoint-name', { hasText: /^page\.session$/ }) }).filter({ has: ui.locator('.SpanBarRow--errorIcon') }).first();
    await row.waitFor({ timeout: 10000 });
    // uiFind opens the detail of the matching span; open it if it is not.
    if (!(await row.locator('.span-name.is-detail-expanded').count())) await row.locator('.span-name').click();
    const tags = ui.locator('.AccordianKeyValues--header', { hasText: 'Tags' }).first();
    await tags.waitFor({ timeout: 10000 });
    await tags.click();
    await sleep(500);
    await shot(ui, name);
  };
  await spanShot(B.ids.traceId, null, 'demo-reconciled.png');
  const tA2 = await jaegerTrace(A.ids.traceId);
  const newest = named(tA2, 'page.session').sort((a, b) => b.tag['longspan.snapshot.seq'] - a.tag['longspan.snapshot.seq'])[0];
  await spanShot(A.ids.traceId, newest.spanID, 'demo-snapshot.png');
  await spanShot(C.ids.traceId, null, 'demo-idle-timeout.png');
} catch (e) {
  failures.push(String(e?.stack || e));
  console.error(e);
} finally {
  await viewer?.close();
  await live?.close();
  killed?.kill();
  await killed?.close();
}
if (failures.length) {
  console.log(`== demo-shots: FAIL (${failures.length}):\n${failures.map((f) => '   ' + f).join('\n')}`);
  process.exit(1);
}
console.log(`== demo-shots: PASS in ${((Date.now() - t0) / 1000).toFixed(0)}s`);
