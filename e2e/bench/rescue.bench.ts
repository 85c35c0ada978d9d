/**
 * Rescue end to end, timed: seconds from `lifeboat rescue enter --wait` to a working SSH login on a
 * lab server (IPMI BMC, iPXE, the whole flow), beside the raw boot-to-SSH-login time of the same
 * rescue image started by hand on a VM of the same size (direct kernel boot, no BMC, no control plane).
 *
 *   node --import tsx e2e/bench/rescue.bench.ts [--runs N]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureRescueImage } from '@lifeboat/image';
import { labStatus, main as lab } from '@lifeboat/lab';
import { bootVm, serveFiles } from '@lifeboat/test-support';
import { freePort, lifeboatJson, ssh, waitFor } from '../support.js';
import { median } from '../../scripts/bench-stats.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '2' } } });
const runs = Number(values.runs);
const cliBin = fileURLToPath(new URL('../../packages/cli/bin/lifeboat.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'lifeboat-rescue-bench-'));
const seconds = (ms: number): number => ms / 1000;
const fmt = (xs: number[]): string => `${xs.map((x) => x.toFixed(1)).join(', ')} s (median ${median(xs).toFixed(1)})`;
const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

let controlPlane: ChildProcess | undefined;
const labDir = join(work, 'lab');
try {
  const image = await ensureRescueImage({ onProgress: log });
  const key = join(work, 'id_ed25519');
  await new Promise((resolve) => spawn('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key], { stdio: 'ignore' }).once('exit', resolve));

  // Raw: the same image booted by hand, the customer's key baked into its initrd (no agent needed).
  const raw: number[] = [];
  const byHand = await ensureRescueImage({ rescueFiles: [{ path: '/root/.ssh/authorized_keys', content: readFileSync(`${key}.pub`), mode: 0o600 }] });
  const files = await serveFiles([join(byHand.dir, 'rootfs.squashfs')]);
  for (let i = 0; i < runs; i++) {
    const vm = await bootVm({
      vmlinuz: join(byHand.dir, 'vmlinuz'),
      initrd: join(byHand.dir, 'initrd'),
      append: `lifeboat.url=http://10.0.2.2:9 lifeboat.server=bench lifeboat.token=x lifeboat.rootfs=http://10.0.2.2:${files.port}/rootfs.squashfs`,
      workDir: work,
    });
    try {
      await waitFor('the hand-booted image to accept an SSH login', async () => (await ssh(vm.sshPort, { keyFile: key }, 'true', 15_000)).code === 0, 300_000, 500);
      raw.push(seconds(Date.now() - vm.startedAt));
      log(`raw boot to SSH login: ${raw.at(-1)!.toFixed(1)} s`);
    } finally {
      await vm.stop();
    }
  }
  await files.close();

  // Through Lifeboat: control plane, lab server behind IPMI, iPXE.
  const dataDir = join(work, 'data');
  mkdirSync(dataDir);
  const port = await freePort();
  controlPlane = spawn(process.execPath, [cliBin, 'serve', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--image', image.dir, '--log-level', 'warn'], {
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor('the control plane', async () => (await fetch(`${url}/healthz`).catch(() => undefined))?.ok, 60_000, 200);
  const env = { ...process.env, LIFEBOAT_URL: url, LIFEBOAT_TOKEN: readFileSync(join(dataDir, 'admin.token'), 'utf8').trim(), LIFEBOAT_LAB: labDir };
  Object.assign(process.env, { LIFEBOAT_URL: env.LIFEBOAT_URL, LIFEBOAT_TOKEN: env.LIFEBOAT_TOKEN, LIFEBOAT_LAB: labDir });
  if ((await lab(['up', '--servers', '1', '--register', '--bmc', 'ipmi'])) !== 0) throw new Error('lab up failed');
  const server = labStatus(labDir).servers[0]!;
  const installed = async (): Promise<void> => {
    await waitFor('the installed system', async () => (await ssh(server.ssh.port, { keyFile: server.osLogin!.keyFile }, 'true', 20_000)).code === 0, 600_000, 2000);
  };
  const toReady: number[] = [];
  const toLogin: number[] = [];
  const toDisk: number[] = [];
  await installed();
  for (let i = 0; i < runs; i++) {
    const started = Date.now();
    await lifeboatJson(['rescue', 'enter', server.name, '--ssh-key', `${key}.pub`, '--wait'], env);
    toReady.push(seconds(Date.now() - started));
    await waitFor('an SSH login to the rescue system', async () => (await ssh(server.ssh.port, { keyFile: key }, 'true', 15_000)).code === 0, 120_000, 200);
    toLogin.push(seconds(Date.now() - started));
    log(`rescue enter to SSH login: ${toLogin.at(-1)!.toFixed(1)} s`);
    const exitStarted = Date.now();
    await lifeboatJson(['rescue', 'exit', server.name, '--wait'], env);
    toDisk.push(seconds(Date.now() - exitStarted));
  }
  const load = loadavg()[0]?.toFixed(1) ?? '?';
  console.log(
    [
      '| measure | value | note |',
      '| --- | --- | --- |',
      `| rescue image booted by hand → SSH login (direct kernel, TCG, 1 vCPU) | ${fmt(raw)} | no BMC, no firmware, no control plane |`,
      `| \`rescue enter --wait\` → state rescue (IPMI, clean shutdown of the installed OS, iPXE) | ${fmt(toReady)} | |`,
      `| \`rescue enter\` → SSH login with the customer's key | ${fmt(toLogin)} | ratio to by hand: ${(median(toLogin) / median(raw)).toFixed(2)} |`,
      `| \`rescue exit --wait\` → installed system answers SSH | ${fmt(toDisk)} | |`,
      `| load average at the end | ${load} | 2 cores |`,
    ].join('\n'),
  );
} finally {
  process.env.LIFEBOAT_LAB = labDir;
  await lab(['down']).catch(() => 1);
  if (controlPlane && controlPlane.exitCode === null) {
    const exited = new Promise((resolve) => controlPlane!.once('exit', resolve));
    controlPlane.kill('SIGTERM');
    await exited;
  }
  rmSync(work, { recursive: true, force: true });
}
