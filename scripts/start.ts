/**
 * `npm start`: the control plane on SQLite (data in ./data) and a lab of two simulated servers
 * registered with it: `lab-1` healthy, `lab-2` with a broken fstab (stuck in emergency mode).
 * Builds the rescue image and the lab disks the first time (cached). Ctrl-C stops everything.
 *
 * Flags: `--servers N` (default 2; the last one gets the broken fstab when N > 1), then any flag of
 * `lifeboat serve` (`--listen HOST:PORT`, `--data DIR`, ...). The lab lives in LIFEBOAT_LAB.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseConfig, startControlPlane, type RunningControlPlane } from '@lifeboat/control-plane';
import { ensureRescueImage } from '@lifeboat/image';
import { main as lab } from '@lifeboat/lab';

const started = Date.now();
const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s`;
const say = (line: string): void => void process.stderr.write(`[start ${elapsed()}] ${line}\n`);

const args = process.argv.slice(2);
const serversAt = args.indexOf('--servers');
const servers = serversAt >= 0 ? Number(args.splice(serversAt, 2)[1]) : 2;
if (!Number.isInteger(servers) || servers < 1 || servers > 16) {
  say('--servers must be 1 to 16');
  process.exit(2);
}

// Shutdown. Ctrl-C in a terminal signals the whole foreground process group (npm, scripts/start.mjs,
// this process), and start.mjs forwards what it gets: one Ctrl-C arrives here two or three times.
// So a signal after the first never cuts the stop short (exiting then left the lab's VMs and BMCs
// running, issue 10): the lab's processes run in their own sessions, they only stop through `lab down`.
const labStop = new AbortController();
let labUp: Promise<number> | undefined;
let controlPlane: RunningControlPlane | undefined;
let stopping: { at: number; done: Promise<never> } | undefined;

function stop(code: number): Promise<never> {
  if (stopping) {
    // The same Ctrl-C seen through another process arrives within milliseconds: no need to say it.
    if (Date.now() - stopping.at > 1000) say('still stopping: the lab and the control plane are being stopped');
    return stopping.done;
  }
  say('stopping: lab down, control plane');
  const done = (async (): Promise<never> => {
    labStop.abort(); // a lab up in progress starts nothing more and takes down what it started
    await labUp?.catch(() => 1);
    if ((await lab(['down']).catch(() => 1)) !== 0) code = code || 1;
    await controlPlane?.close();
    process.exit(code);
  })();
  stopping = { at: Date.now(), done };
  return done;
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(0));

say('rescue image: building or finding it in the cache (the first build takes a few minutes)');
const image = await ensureRescueImage({ onProgress: (line) => say(`image: ${line}`), recordAsLatest: true });
say(`rescue image ready: ${image.dir}`);

// Request logs would drown the instructions below in a terminal: warnings only, unless asked for
// (`lifeboat events` follows what happens, `lifeboat tasks NAME` shows each rescue's steps).
const config = parseConfig(args, {
  ...process.env,
  LIFEBOAT_IMAGE: process.env.LIFEBOAT_IMAGE ?? image.dir,
  LIFEBOAT_LOG_LEVEL: process.env.LIFEBOAT_LOG_LEVEL ?? 'warn',
});
if (stopping) await stopping.done;
controlPlane = await startControlPlane(config);
if (stopping) await stopping.done;
const tokenFile = resolve(config.dataDir, 'admin.token');
process.env.LIFEBOAT_URL = controlPlane.url;
process.env.LIFEBOAT_TOKEN = readFileSync(tokenFile, 'utf8').trim();

const broken = servers > 1 ? `lab-${servers}` : undefined;
say(`lab: ${servers} server${servers > 1 ? 's' : ''}${broken ? ` (${broken} with a broken fstab, the others healthy)` : ''}, registered with the control plane`);
await lab(['down']);
if (stopping) await stopping.done;
labUp = lab(['up', '--servers', String(servers), ...(broken ? ['--scenario', 'broken-fstab'] : []), '--register'], { signal: labStop.signal });
const labCode = await labUp;
if (stopping) await stopping.done;
if (labCode !== 0) {
  say('the lab did not start; see the messages above');
  await stop(1);
}

const rescueExample = broken
  ? `  npx lifeboat rescue enter ${broken} --wait        # ${broken} is stuck in emergency mode: rescue it
  npx lifeboat tasks ${broken}                      # the boot timeline, step by step
  npx lifeboat rescue exit ${broken} --wait`
  : `  npx lifeboat rescue enter lab-1 --wait
  npx lifeboat tasks lab-1                      # the boot timeline, step by step
  npx lifeboat rescue exit lab-1 --wait`;
const gateway = controlPlane.consoleGateway;
const consoleExample = gateway
  ? `
The servers' serial consoles over SSH (IPMI Serial-over-LAN; host key: ${gateway.hostKeyFingerprint}):
  npx lifeboat keys add me --public-key ~/.ssh/id_ed25519.pub   # a staff key: it opens every server's console
  ssh -p ${gateway.port} lab-1@${gateway.host}                            # read-only; add "-- --write" to type; ~. detaches
  npx lifeboat console log lab-1                # what the console printed during the last rescue
`
  : '';
process.stdout.write(`
Lifeboat is running.
  API:                  ${controlPlane.url}   (OpenAPI: ${controlPlane.url}/openapi.json)
  iPXE for servers:     ${controlPlane.bootUrl}/boot.ipxe
  operator token:       ${tokenFile}

Try, in another terminal at the repository root:
  export LIFEBOAT_URL=${controlPlane.url} LIFEBOAT_TOKEN="$(cat ${tokenFile})"
  npx lifeboat servers list
${rescueExample}
  npx lifeboat events                           # live changes of every server
  npx lifeboat lab status                       # the lab's servers, BMCs, serial logs
${consoleExample}
Ctrl-C stops the lab and the control plane.
`);
