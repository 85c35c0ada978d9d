/**
 * `npm start`: the control plane on SQLite (data in ./data) and a lab of two simulated servers
 * registered with it: `lab-1` healthy, `lab-2` with a broken fstab (stuck in emergency mode).
 * Builds the rescue image and the lab disks the first time (cached). Ctrl-C stops everything.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseConfig, startControlPlane } from '@lifeboat/control-plane';
import { ensureRescueImage } from '@lifeboat/image';
import { main as lab } from '@lifeboat/lab';

const started = Date.now();
const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s`;
const say = (line: string): void => void process.stderr.write(`[start ${elapsed()}] ${line}\n`);

say('rescue image: building or finding it in the cache (the first build takes a few minutes)');
const image = await ensureRescueImage({ onProgress: (line) => say(`image: ${line}`) });
say(`rescue image ready: ${image.dir}`);

// Request logs would drown the instructions below in a terminal: warnings only, unless asked for
// (`lifeboat events` follows what happens, `lifeboat tasks NAME` shows each rescue's steps).
const config = parseConfig(process.argv.slice(2), {
  ...process.env,
  LIFEBOAT_IMAGE: process.env.LIFEBOAT_IMAGE ?? image.dir,
  LIFEBOAT_LOG_LEVEL: process.env.LIFEBOAT_LOG_LEVEL ?? 'warn',
});
const controlPlane = await startControlPlane(config);
const tokenFile = resolve(config.dataDir, 'admin.token');
process.env.LIFEBOAT_URL = controlPlane.url;
process.env.LIFEBOAT_TOKEN = readFileSync(tokenFile, 'utf8').trim();

let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say('stopping: lab down, control plane');
    await lab(['down']).catch(() => 1);
    await controlPlane.close();
  }
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

say('lab: two servers (lab-1 healthy, lab-2 with a broken fstab), registered with the control plane');
await lab(['down']);
const labCode = await lab(['up', '--servers', '2', '--scenario', 'broken-fstab', '--register']);
if (labCode !== 0) {
  say('the lab did not start; see the messages above');
  await stop(1);
}

process.stdout.write(`
Lifeboat is running.
  API:                  ${controlPlane.url}   (OpenAPI: ${controlPlane.url}/openapi.json)
  iPXE for servers:     ${controlPlane.bootUrl}/boot.ipxe
  operator token:       ${tokenFile}

Try, in another terminal at the repository root:
  export LIFEBOAT_URL=${controlPlane.url} LIFEBOAT_TOKEN="$(cat ${tokenFile})"
  npx lifeboat servers list
  npx lifeboat rescue enter lab-2 --wait        # lab-2 is stuck in emergency mode: rescue it
  npx lifeboat tasks lab-2                      # the boot timeline, step by step
  npx lifeboat rescue exit lab-2 --wait
  npx lifeboat events                           # live changes of every server
  npx lifeboat lab status                       # the lab's servers, BMCs, serial logs

Ctrl-C stops the lab and the control plane.
`);
