// A deployable's entry point as one JavaScript file (esbuild), built from the TypeScript sources the
// first time the entry point runs after a source changed, and run by plain Node.js. Plain JavaScript:
// it runs before anything can load TypeScript.
//
// Why: running the sources through tsx costs each process about 70 MB more resident memory (the
// transformed modules and their source maps, tsx's loader hooks) and 1 to 2 s of start-up on this
// project's machines, paid again by every `lifeboat` command. The workspace's own packages
// (`@lifeboat/*`, TypeScript) go in; npm packages stay outside (native addons, files they read beside
// themselves).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/**
 * @typedef {object} BundleSpec
 * @property {string} packageDir the deployable's package folder (packages/NAME)
 * @property {string} entry its entry module, relative to packageDir (`src/main.ts`)
 * @property {string} outfile the bundle's path
 * @property {readonly string[]} [external] workspace packages left outside (imported only by tests)
 */

function sourceFiles(dir, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sourceFiles(path, out);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

function manifest(dir) {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
}

/** The workspace packages bundled with the deployable (its `@lifeboat/*` dependencies, transitively), and the npm packages left outside. */
function packagesOf(spec) {
  const packagesDir = dirname(spec.packageDir);
  const excluded = new Set(spec.external ?? []);
  const bundled = [];
  const external = new Set(excluded);
  const visit = (dir) => {
    if (bundled.includes(dir)) return;
    bundled.push(dir);
    for (const dep of Object.keys(manifest(dir).dependencies ?? {})) {
      if (!dep.startsWith('@lifeboat/')) external.add(dep);
      else if (!excluded.has(dep)) visit(join(packagesDir, dep.slice('@lifeboat/'.length)));
    }
  };
  visit(spec.packageDir);
  return { bundled, external: [...external] };
}

/** A digest of the entry, and of every bundled source file's path, size and modification time and the manifests. */
function sourcesStamp(spec, bundled) {
  const hash = createHash('sha256');
  hash.update(`${spec.entry}\0${(spec.external ?? []).join(',')}\n`);
  for (const dir of bundled) {
    for (const file of [join(dir, 'package.json'), ...sourceFiles(join(dir, 'src')).sort()]) {
      const { size, mtimeMs } = statSync(file);
      hash.update(`${relative(dirname(spec.packageDir), file)}\0${size}\0${mtimeMs}\n`);
    }
  }
  return hash.digest('hex');
}

/**
 * The bundle's path, built first when it is missing or older than the sources; undefined when esbuild
 * is not installed (the entry point then runs the sources through tsx).
 * @param {BundleSpec} spec
 * @returns {Promise<string | undefined>}
 */
export async function ensureBundle(spec) {
  const { bundled, external } = packagesOf(spec);
  const stamp = sourcesStamp(spec, bundled);
  const stampFile = `${spec.outfile}.sources`;
  if (existsSync(spec.outfile) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return spec.outfile;
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    return undefined;
  }
  const result = await esbuild.build({
    entryPoints: [join(spec.packageDir, spec.entry)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external,
    outfile: spec.outfile,
    sourcemap: 'linked',
    write: false,
    logLevel: 'error',
    // Bundled modules that are CommonJS need `require` in an ES module.
    banner: { js: "import { createRequire as __lifeboatCreateRequire } from 'node:module'; const require = __lifeboatCreateRequire(import.meta.url);" },
  });
  mkdirSync(dirname(spec.outfile), { recursive: true });
  // Several processes may build at once (two replicas, parallel tests): each writes its own files and
  // renames them into place, so a reader sees a whole bundle, never half of one.
  const suffix = `.${process.pid}.tmp`;
  for (const file of result.outputFiles) {
    writeFileSync(`${file.path}${suffix}`, file.contents);
    renameSync(`${file.path}${suffix}`, file.path);
  }
  writeFileSync(`${stampFile}${suffix}`, stamp);
  renameSync(`${stampFile}${suffix}`, stampFile);
  return spec.outfile;
}

/**
 * What a deployable's bin runs: the bundle's module, or the TypeScript entry through tsx when
 * `fromSource` is set or esbuild is missing. Returns a URL or path for `import()`.
 * @param {BundleSpec & { fromSource?: boolean }} spec
 * @returns {Promise<string>}
 */
export async function entryModule(spec) {
  const bundle = spec.fromSource ? undefined : await ensureBundle(spec);
  if (bundle !== undefined) return bundle;
  const { register } = await import('tsx/esm/api');
  register();
  return join(spec.packageDir, spec.entry);
}
