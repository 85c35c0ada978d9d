/**
 * The control plane's entry point, found the way a shell finds `lifeboat-control-plane` in this
 * workspace: the link npm makes in the root `node_modules/.bin`, resolved to its file. Test support
 * never imports the control plane: tests of other packages run it as the program an operator runs.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The control plane's bin name (its package.json `bin`). */
const controlPlaneBinName = 'lifeboat-control-plane';

/** How to run the control plane: its entry point and the Node.js options it asks for. */
export interface ControlPlaneProgram {
  /** The real file of the entry point (`packages/control-plane/bin/lifeboat-control-plane.mjs`). */
  readonly file: string;
  /** Its manifest's `lifeboat.nodeOptions` (what `lifeboat serve` passes to Node.js). */
  readonly nodeOptions: readonly string[];
}

let found: ControlPlaneProgram | undefined;

/** The control plane's entry point and Node.js options; throws when npm has not linked it. */
export function controlPlaneProgram(): ControlPlaneProgram {
  if (found) return found;
  const link = fileURLToPath(new URL(`../../../node_modules/.bin/${controlPlaneBinName}`, import.meta.url));
  let file: string;
  try {
    file = realpathSync(link);
  } catch {
    throw new Error(`${link} is missing: run npm install at the workspace's root`);
  }
  // The bin lives in its package's bin/ folder, beside the manifest that holds its Node.js options.
  const manifest = JSON.parse(readFileSync(join(dirname(file), '..', 'package.json'), 'utf8')) as { lifeboat?: { nodeOptions?: unknown } };
  const options = manifest.lifeboat?.nodeOptions;
  found = { file, nodeOptions: Array.isArray(options) ? options.filter((o): o is string => typeof o === 'string') : [] };
  return found;
}
