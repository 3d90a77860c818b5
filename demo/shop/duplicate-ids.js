// The experiment behind docs/design.md, "Snapshots in a trace backend": what Jaeger makes of
// several spans with one span id in a trace, i.e. snapshots as longspan emits them with
// snapshot_span_ids: keep. With `make demo` running (Jaeger's OTLP/HTTP on 127.0.0.1:4328):
//
//   node demo/shop/duplicate-ids.js [screenshot.png]
//
// Sends one trace of service duplicate-ids: three rounds of snapshots of an open page.session
// and its open checkout (same ids every round, as longspan emits them), then the final
// versions (page.session reconciled, status Error; checkout parent_reconciled) and an ended
// cart.add child. Prints what /api/traces returns for each span (warnings included) and,
// given a file name, screenshots the trace in the Jaeger UI (all rows expanded).
import { randomBytes } from 'node:crypto';

const JAEGER = process.env.JAEGER_URL || 'http://127.0.0.1:16686';
const OTLP = process.env.JAEGER_OTLP_HTTP || 'http://127.0.0.1:4328/v1/traces';
const hex = (n) => randomBytes(n).toString('hex');
const traceId = hex(16);
const [root, checkout, cart] = [hex(8), hex(8), hex(8)];
const s = 1_000_000_000n;
const start = BigInt(Date.now()) * 1_000_000n - 60n * s;
const attrs = (o) =>
  Object.entries(o).map(([key, v]) => ({ key, value: typeof v === 'number' ? { intValue: String(v) } : { stringValue: v } }));
const span = (spanId, parentSpanId, name, from, to, a, error) => ({
  traceId, spanId, parentSpanId, name, kind: 1,
  startTimeUnixNano: String(from), endTimeUnixNano: String(to), attributes: attrs(a),
  ...(error ? { status: { code: 2, message: 'longspan: the client went away before the span ended (page unloaded); closed at that moment' } } : {}),
});
const spans = [];
for (const seq of [1, 2, 3]) {
  const now = start + BigInt(seq) * 10n * s;
  const snap = { 'longspan.state': 'snapshot', 'longspan.snapshot.seq': seq, 'longspan.source': 'otlp_open_span' };
  spans.push(span(root, '', 'page.session', start, now, snap));
  spans.push(span(checkout, root, 'checkout', start + 5n * s, now, snap));
}
const rec = (reason) => ({ 'longspan.state': 'reconciled', 'longspan.close_reason': reason, 'longspan.source': 'otlp_open_span' });
spans.push(span(root, '', 'page.session', start, start + 35n * s, rec('client_interrupted'), true));
spans.push(span(checkout, root, 'checkout', start + 5n * s, start + 35n * s, rec('parent_reconciled'), true));
spans.push(span(cart, root, 'cart.add', start + 1n * s, start + 1n * s + 100_000_000n, {}));

const body = { resourceSpans: [{ resource: { attributes: attrs({ 'service.name': 'duplicate-ids' }) }, scopeSpans: [{ scope: { name: 'experiment' }, spans }] }] };
const r = await fetch(OTLP, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
if (!r.ok) throw new Error(`POST ${OTLP}: ${r.status} (is make demo running?)`);
await new Promise((res) => setTimeout(res, 1500));
const got = (await (await fetch(`${JAEGER}/api/traces/${traceId}`)).json()).data[0];
console.log(`sent ${spans.length} spans with ${new Set(spans.map((x) => x.spanId)).size} span ids; /api/traces/${traceId} returns ${got.spans.length}:`);
for (const x of got.spans) {
  const t = Object.fromEntries(x.tags.map((k) => [k.key, k.value]));
  console.log(
    `  ${x.spanID} ${x.operationName.padEnd(12)} ${String(t['longspan.state']).padEnd(10)} seq=${t['longspan.snapshot.seq'] ?? '-'}` +
      ` ${(x.duration / 1e6).toFixed(1)}s warnings=${JSON.stringify(x.warnings || [])}`,
  );
}

const out = process.argv[2];
if (out) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 620 } })).newPage();
  await page.goto(`${JAEGER}/trace/${traceId}`);
  await page.locator('.span-row').first().waitFor();
  await page.locator('.TimelineCollapser svg').nth(2).click(); // Expand All
  await page.mouse.move(700, 600); // no tooltip in the picture
  await new Promise((res) => setTimeout(res, 800));
  await page.screenshot({ path: out });
  await browser.close();
  console.log(`wrote ${out} (${JAEGER}/trace/${traceId})`);
}
