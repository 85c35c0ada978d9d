// Builds the web console (packages/web/dist) when it is missing or stale: the build is keyed by a
// hash of its sources (packages/web's src, public, index.html, vite.config.ts, package.json) and of
// packages/core/src, written to dist/.build-hash. Used by `npm start`, `npm test` and the browser tests.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const web = join(root, 'packages/web');
/** Where the console is built. */
export const webDist = join(web, 'dist');

function files(path, out = []) {
  if (!existsSync(path)) return out;
  if (statSync(path).isFile()) {
    out.push(path);
    return out;
  }
  for (const name of readdirSync(path).sort()) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    files(join(path, name), out);
  }
  return out;
}

/** The hash of everything the build reads. */
export function webSourceHash() {
  const hash = createHash('sha256');
  const inputs = [
    ...['src', 'public', 'index.html', 'vite.config.ts', 'package.json'].flatMap((p) => files(join(web, p))),
    ...files(join(root, 'packages/core/src')).filter((f) => !f.endsWith('.test.ts')),
  ];
  for (const file of inputs) {
    if (file.endsWith('.test.ts') && file.startsWith(join(web, 'src'))) continue;
    hash.update(relative(root, file)).update('\0').update(readFileSync(file)).update('\0');
  }
  return hash.digest('hex');
}

/** Builds packages/web/dist unless it is current; returns whether it built. */
export function ensureWebBuild({ quiet = false } = {}) {
  const want = webSourceHash();
  const marker = join(webDist, '.build-hash');
  if (existsSync(join(webDist, 'index.html')) && existsSync(marker) && readFileSync(marker, 'utf8').trim() === want) return false;
  if (!quiet) console.error('setup: building the web console (packages/web/dist)');
  execFileSync(process.execPath, [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], {
    cwd: web,
    stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'],
  });
  precompress(webDist);
  writeFileSync(marker, `${want}\n`);
  return true;
}

/** Writes `.br` and `.gz` beside each text file: the control plane serves them to browsers that accept them. */
function precompress(dir) {
  for (const file of files(dir)) {
    if (!/\.(js|css|html|svg|json)$/.test(file)) continue;
    const data = readFileSync(file);
    writeFileSync(`${file}.br`, brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } }));
    writeFileSync(`${file}.gz`, gzipSync(data, { level: 9 }));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const built = ensureWebBuild();
  console.error(built ? `web console built in ${relative(root, webDist)}` : 'web console is current');
}
