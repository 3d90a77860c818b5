// The processor must add <= 3 KB (3072 bytes) min+gzip to an app bundle.
// Measured as the app's bundler would see it: esbuild --bundle --minify, OTel peers external
// (the app already has them), then gzip -9.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const LIMIT = 3072;

export async function measure() {
  const r = await build({
    entryPoints: [fileURLToPath(new URL('../src/index.js', import.meta.url))],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2020',
    write: false,
    external: ['@opentelemetry/*'],
  });
  const min = r.outputFiles[0].contents;
  return { min: min.byteLength, gzip: gzipSync(min, { level: 9 }).byteLength };
}

test(`min+gzip size of the processor is <= ${LIMIT} bytes`, async () => {
  const { min, gzip } = await measure();
  console.log(`@otelcol-longspan/web: ${min} bytes minified, ${gzip} bytes min+gzip (limit ${LIMIT})`);
  assert.ok(gzip <= LIMIT, `${gzip} bytes min+gzip > ${LIMIT}`);
});
