// The control plane as one JavaScript file (esbuild; @lifeboat/core/bundle), built from the TypeScript
// sources the first time the entry point runs after a source changed, and run by plain Node.js: a
// replica idled at 149 MB under tsx and at 79 MB from this bundle (issue 14: at most 200 MB per replica
// under load).
//
// The bundle sits two folders below packages/control-plane, like src/http/: the web console's files
// are found relative to the module (`src/http/web-console.ts`), and that path must hold in both.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBundle as ensure, entryModule as entry } from '@lifeboat/core/bundle';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The bundle's file. */
export const bundleFile = join(packageDir, 'dist/bundle/control-plane.mjs');

const spec = {
  packageDir,
  entry: 'src/main.ts',
  outfile: bundleFile,
  // Imported by test helpers only, never by the served program.
  external: ['@lifeboat/test-support', '@lifeboat/lab'],
};

/** The bundle, built first when it is missing or older than the sources; undefined without esbuild. */
export function ensureBundle() {
  return ensure(spec);
}

/** The module the entry point runs: the bundle, or the sources through tsx (`fromSource`, or no esbuild). */
export function entryModule(fromSource) {
  return entry({ ...spec, fromSource });
}
