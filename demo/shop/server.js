// The demo shop's server (make demo): bundles app.js with esbuild (the real OpenTelemetry web
// SDK + @otelcol-longspan/web) and serves the shop on loopback.
//
//   node server.js    env: DEMO_SHOP_ADDR (127.0.0.1:8080), DEMO_OTLP_URL, DEMO_JAEGER_URL,
//                          DEMO_CLIENT_INTERVAL_MS (5000)
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const [host, port] = (process.env.DEMO_SHOP_ADDR || '127.0.0.1:8080').split(':');
const config = {
  otlpUrl: process.env.DEMO_OTLP_URL || 'http://127.0.0.1:4318/v1/traces',
  jaegerUrl: process.env.DEMO_JAEGER_URL || 'http://127.0.0.1:16686',
  clientInterval: Number(process.env.DEMO_CLIENT_INTERVAL_MS || 5000),
};

const bundle = await build({
  entryPoints: [join(here, 'app.js')],
  bundle: true,
  format: 'iife',
  target: 'es2020',
  write: false,
  logLevel: 'warning',
  nodePaths: [join(here, 'node_modules')],
});
const files = {
  '/': ['text/html', readFileSync(join(here, 'index.html'))],
  '/index.html': ['text/html', readFileSync(join(here, 'index.html'))],
  '/app.js': ['text/javascript', Buffer.from(bundle.outputFiles[0].text)],
  '/config.js': ['text/javascript', Buffer.from(`window.DEMO = ${JSON.stringify(config)};\n`)],
};
const server = createServer((req, res) => {
  const f = files[new URL(req.url, 'http://x').pathname];
  if (!f) return res.writeHead(404).end();
  res.writeHead(200, { 'content-type': f[0], 'cache-control': 'no-cache' });
  res.end(f[1]);
});
server.on('error', (e) => {
  console.error(`demo shop: cannot listen on ${host}:${port}: ${e.message}`);
  process.exit(1);
});
server.listen(Number(port), host, () => console.log(`demo shop on http://${host}:${port}/`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
