// Builds the app for Hermes the way a React Native app is built, and runs it on the Hermes VM.
//   1. esbuild resolves and bundles the packages as Metro does (react-native, browser, module,
//      main fields; the react-native export condition) into one ES2019 script;
//   2. @react-native/babel-preset transpiles it, with one of its transform profiles:
//      'hermes-stable' (its default in 0.87: Hermes V1, classes kept) for the hermesc check, and
//      'default' (classes and the rest lowered, @babel/runtime helpers: what a legacy-Hermes app
//      gets) for the run on hermes-engine-cli 0.12, which has no class syntax;
//   3. esbuild bundles once more to inline the @babel/runtime helpers;
//   4. hermesc (npm hermes-compiler, React Native 0.87's) compiles it to bytecode: a syntax and
//      compile check with the compiler apps ship with;
//   5. hermes (npm hermes-engine-cli 0.12.0, a static Linux VM) runs it after ../app/prelude.js.
import { build } from 'esbuild';
import { transformAsync } from '@babel/core';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const require = createRequire(import.meta.url);
export const hermesBin = join(root, 'node_modules/hermes-engine-cli/linux64-bin/hermes');
export const hermescBin = join(root, 'node_modules/hermes-compiler/hermesc/linux64-bin/hermesc');

/** The app bundle (steps 1-3) for a @react-native/babel-preset transform profile. */
export async function bundleApp(profile) {
  const metro = await build({
    entryPoints: [join(root, 'app/app.js')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2019',
    mainFields: ['react-native', 'browser', 'module', 'main'],
    conditions: ['react-native'],
    write: false,
    logLevel: 'warning',
  });
  const babel = await transformAsync(metro.outputFiles[0].text, {
    filename: 'app.bundle.js',
    babelrc: false,
    configFile: false,
    sourceType: 'unambiguous',
    presets: [[require.resolve('@react-native/babel-preset'), { unstable_transformProfile: profile }]],
    envName: 'production',
  });
  const inlined = await build({
    stdin: { contents: babel.code, resolveDir: root, sourcefile: 'app.babel.js', loader: 'js' },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2019',
    write: false,
    logLevel: 'warning',
  });
  return inlined.outputFiles[0].text;
}

export function run(cmd, args, opts = {}) {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', rej);
    p.on('exit', (code, signal) => res({ code, signal, stdout, stderr }));
  });
}

/** Step 4: hermesc -emit-binary -O; throws with the compiler's messages on failure. */
export async function hermescCheck(bundlePath) {
  const out = `${bundlePath}.hbc`;
  const r = await run(hermescBin, ['-emit-binary', '-O', '-out', out, bundlePath]);
  if (r.code !== 0) throw new Error(`hermesc failed (${r.code}):\n${r.stderr.slice(0, 4000)}`);
  return { out, bytes: readFileSync(out).length, version: (await run(hermescBin, ['--version'])).stdout.match(/Hermes release version: (\S+)/)?.[1] };
}

/**
 * Step 5: one app launch on the Hermes VM. Returns the labelled OTLP requests the app's exporter
 * produced, its console lines and its result (what __done printed).
 */
export async function runLaunch(bundle, dir, harness) {
  const file = join(dir, `launch-${harness.launch}.js`);
  writeFileSync(file, `globalThis.__HARNESS = ${JSON.stringify(harness)};\n${readFileSync(join(root, 'app/prelude.js'), 'utf8')}\n${bundle}`);
  const r = await run(hermesBin, ['-Xmicrotask-queue', '-w', file], { timeout: 60000 });
  const requests = [];
  const consoleLines = [];
  let result;
  for (const line of r.stdout.split('\n')) {
    const m = /^(__OTLP__|__DONE__|__CONSOLE__|__STEP__) (.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '__OTLP__') requests.push(JSON.parse(m[2]));
    else if (m[1] === '__DONE__') result = JSON.parse(m[2]);
    else if (m[1] === '__CONSOLE__') consoleLines.push(m[2]);
  }
  if (r.code !== 0 || !result || result.error)
    throw new Error(`hermes launch ${harness.launch} failed (exit ${r.code ?? r.signal}): ${result?.error ?? ''}\nstderr:\n${r.stderr.slice(0, 4000)}\nstdout tail:\n${r.stdout.slice(-3000)}`);
  return { requests, console: consoleLines, result, stdout: r.stdout };
}
