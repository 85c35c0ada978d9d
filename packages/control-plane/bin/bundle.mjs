// The control plane as one JavaScript file (esbuild), built from the TypeScript sources the first time
// the entry point runs after a source changed, and run by plain Node.js.
//
// Why: running the sources through tsx costs each process about 70 MB more resident memory (the
// transformed modules and their source maps, tsx's loader hooks): a replica idled at 149 MB under tsx
// and at 79 MB from this bundle (issue 14: at most 200 MB per replica under load). The npm packages
// stay outside the bundle (native addons, files they read beside themselves); the workspace's own
// packages (`@lifeboat/core`) are TypeScript and go in.
//
// The bundle sits two folders below packages/control-plane, like src/http/: the web console's files
// are found relative to the module (`src/http/web-console.ts`), and that path must hold in both.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const packagesDir = join(packageDir, '..');
/** The bundle's file. */
export const bundleFile = join(packageDir, 'dist/bundle/control-plane.mjs');
const stampFile = `${bundleFile}.sources`;

/** The workspace packages whose sources go into the bundle. */
const bundledPackages = ['control-plane', 'core'];

function sourceFiles(dir, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sourceFiles(path, out);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

/** A digest of every bundled source file's path, size and modification time, and of the manifests. */
function sourcesStamp() {
  const hash = createHash('sha256');
  for (const name of bundledPackages) {
    const dir = join(packagesDir, name);
    for (const file of [join(dir, 'package.json'), ...sourceFiles(join(dir, 'src')).sort()]) {
      const { size, mtimeMs } = statSync(file);
      hash.update(`${relative(packagesDir, file)}\0${size}\0${mtimeMs}\n`);
    }
  }
  return hash.digest('hex');
}

/** The npm packages the bundled packages depend on: imported at run time, not bundled. */
function externalPackages() {
  const names = new Set(['@lifeboat/test-support', '@lifeboat/lab']);
  for (const name of bundledPackages) {
    const manifest = JSON.parse(readFileSync(join(packagesDir, name, 'package.json'), 'utf8'));
    for (const dep of Object.keys(manifest.dependencies ?? {})) if (!dep.startsWith('@lifeboat/')) names.add(dep);
  }
  return [...names];
}

/**
 * The bundle, built first when it is missing or older than the sources; undefined when esbuild is not
 * installed (the entry point then runs the sources through tsx).
 */
export async function ensureBundle() {
  const stamp = sourcesStamp();
  if (existsSync(bundleFile) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return bundleFile;
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    return undefined;
  }
  const result = await esbuild.build({
    entryPoints: [join(packageDir, 'src/main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: externalPackages(),
    outfile: bundleFile,
    sourcemap: 'linked',
    write: false,
    logLevel: 'error',
    // Bundled modules that are CommonJS need `require` in an ES module.
    banner: { js: "import { createRequire as __lifeboatCreateRequire } from 'node:module'; const require = __lifeboatCreateRequire(import.meta.url);" },
  });
  mkdirSync(dirname(bundleFile), { recursive: true });
  // Several processes may build at once (two replicas, parallel tests): each writes its own files and
  // renames them into place, so a reader sees a whole bundle, never half of one.
  const suffix = `.${process.pid}.tmp`;
  for (const file of result.outputFiles) {
    writeFileSync(`${file.path}${suffix}`, file.contents);
    renameSync(`${file.path}${suffix}`, file.path);
  }
  writeFileSync(`${stampFile}${suffix}`, stamp);
  renameSync(`${stampFile}${suffix}`, stampFile);
  return bundleFile;
}
