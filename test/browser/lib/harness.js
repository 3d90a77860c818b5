// Harness for the browser end-to-end scenarios: bundles the test page, serves it on loopback,
// runs the built collector with the default config plus a generated overlay, reads the file
// exporter output, drives Debian's Chromium through playwright-core.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { Collector as SharedCollector, repoRoot, binary, sleep, until, freePorts, defaultConfig } from '../../lib/collector.js';

export { repoRoot, binary, sleep, until, freePorts, defaultConfig };

const here = dirname(fileURLToPath(import.meta.url));
export const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// Timings shared by the collector config and the assertions.
export const T = {
  snapshotInterval: 1000, // collector snapshot.interval and the page's LongSpanProcessor interval
  idleTimeout: 4000,
  tick: 200,
  decisionWait: 1000,
};

/** The collector under test (test/lib/collector.js) with these timings. */
export class Collector extends SharedCollector {
  static create(name) {
    return SharedCollector.create(name, { kind: 'browser', timings: T });
  }
}

/** esbuild bundle of page/app.js (the real OTel web SDK + exporter + our processor). */
export async function bundlePage() {
  const r = await build({
    entryPoints: [join(here, '../page/app.js')],
    bundle: true,
    format: 'iife',
    target: 'es2020',
    minify: false,
    sourcemap: 'inline',
    write: false,
    logLevel: 'warning',
    // Make sure the page uses the web-SDK copies installed here (the processor has no imports).
    nodePaths: [join(here, '../node_modules')],
  });
  return r.outputFiles[0].text;
}

/** Tiny static server for the test page on 127.0.0.1. */
export async function servePage(appJs) {
  const files = {
    '/': ['text/html', readFileSync(join(here, '../page/index.html'))],
    '/index.html': ['text/html', readFileSync(join(here, '../page/index.html'))],
    '/other.html': ['text/html', readFileSync(join(here, '../page/other.html'))],
    '/app.js': ['text/javascript', Buffer.from(appJs)],
  };
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/favicon.ico') return res.writeHead(204).end();
    const f = files[path];
    if (!f) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': f[0], 'cache-control': 'no-cache' });
    res.end(f[1]);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return { origin, close: () => new Promise((r) => server.close(r)) };
}


export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Launches Debian's Chromium as a browser server (so the test can SIGKILL its process group)
 * and connects to it. `bfcache: true` removes Playwright's default --disable-back-forward-cache.
 */
export async function launchBrowser({ bfcache = false } = {}) {
  // Playwright gives every launch a fresh temporary user-data-dir (and removes it on close).
  const server = await chromium.launchServer({
    executablePath: chromiumPath,
    headless: true,
    args: chromiumArgs,
    ignoreDefaultArgs: bfcache ? ['--disable-back-forward-cache'] : [],
  });
  const browser = await chromium.connect(server.wsEndpoint());
  const pid = server.process().pid;
  return {
    browser,
    pid,
    /** SIGKILL the whole browser (its process group): no pagehide, nothing flushed. */
    kill() {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        server.process().kill('SIGKILL');
      }
    },
    async close() {
      try {
        await browser.close();
      } catch {}
      try {
        await server.close();
      } catch {}
    },
  };
}

/** Opens the test page in a new context, wired to the collector. */
export async function openPage(browser, origin, collector, scenario) {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  // Every OTLP request the page sends (as seen by the browser's network stack).
  const requests = [];
  page.on('request', (r) => {
    if (r.method() !== 'POST' || !r.url().startsWith(collector.otlpUrl)) return;
    const body = r.postData() || '';
    requests.push({ at: Date.now(), bytes: Buffer.byteLength(body), body });
  });
  const url = `${origin}/index.html?scenario=${scenario}&otlp=${encodeURIComponent(collector.otlpUrl)}`;
  await page.goto(url);
  await page.waitForFunction(() => document.title === 'ready' && window.app);
  return { ctx, page, errors, url, requests };
}

/** Describes spans for the report. */
export function describe(spans, t0 = 0) {
  return spans
    .map(
      (s) =>
        `${s.name} span=${s.spanId.slice(0, 8)} state=${s.state || '-'} close_reason=${s.closeReason || '-'}` +
        ` status=${s.status} start=+${(s.startMs - t0).toFixed(0)}ms end=${s.endMs ? `+${(s.endMs - t0).toFixed(0)}ms` : '0'}` +
        (s.seq !== undefined ? ` seq=${s.seq}` : '') +
        ` line=${s.line}`,
    )
    .join('\n');
}

