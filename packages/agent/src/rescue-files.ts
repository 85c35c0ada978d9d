/**
 * The files the agent package puts into the rescue image: the bundled agent, the rescue helpers and
 * the login menu. The image build layers them over its cached root file system, so a change here
 * rebuilds in seconds.
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A file to place in the rescue image. */
export interface RescueFile {
  /** Absolute path inside the image. */
  readonly path: string;
  readonly content: Buffer;
  /** Permission bits (`0o755` for programs). */
  readonly mode: number;
}

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(packageDir, 'src');
const helpersDir = join(packageDir, 'helpers');

/** Where the image's init starts the agent from (`/usr/lib/lifeboat/qjs /opt/lifeboat/agent.mjs`). */
export const agentPathInImage = '/opt/lifeboat/agent.mjs';

/** The helpers' shared shell functions, sourced by each helper. */
const commonPathInImage = '/usr/local/lib/lifeboat/rescue-common.sh';

/** Every file the agent package contributes to the rescue image. */
export async function rescueFiles(): Promise<RescueFile[]> {
  const files: RescueFile[] = [{ path: agentPathInImage, content: await bundleAgent(), mode: 0o644 }];
  for (const name of (await readdir(helpersDir)).sort()) {
    const content = await readFile(join(helpersDir, name));
    if (name === 'rescue-common.sh') files.push({ path: commonPathInImage, content, mode: 0o644 });
    else if (name === 'lifeboat-menu.sh') files.push({ path: '/etc/profile.d/lifeboat-menu.sh', content, mode: 0o644 });
    else if (name.startsWith('rescue-')) files.push({ path: `/usr/local/sbin/${name}`, content, mode: 0o755 });
  }
  return files;
}

/**
 * The agent as one ES module for QuickJS (its `os` and `std` modules are the only imports left),
 * built with esbuild in well under a second, so not cached. A `node:` import anywhere in what main.ts
 * reaches fails the build: the platform-neutral target cannot resolve it.
 */
export async function bundleAgent(): Promise<Buffer> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [join(srcDir, 'main.ts')],
    bundle: true,
    platform: 'neutral',
    target: 'es2023',
    format: 'esm',
    external: ['os', 'std'],
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
    banner: { js: '// Lifeboat agent (bundled). Source: packages/agent/src. Runs on QuickJS.' },
  });
  const output = result.outputFiles[0];
  if (!output) throw new Error('esbuild produced no output for the agent');
  return Buffer.from(output.contents);
}
