/**
 * Rescue end to end, timed, on one lab server (QEMU + iPXE firmware + installed Debian, IPMI BMC):
 *
 * - raw: the same VM netbooting the same rescue image through its iPXE firmware from a static file
 *   server (no control plane, no BMC, no agent: the customer's key is baked into the initrd), from
 *   power-on to an SSH login;
 * - Lifeboat: `lifeboat rescue enter --wait` (from the running installed system: BMC, clean
 *   shutdown, iPXE, agent) to an SSH login with the customer's key; their ratio;
 * - the gap between the timeline steps `sshd_started` and `ready` (must stay under 1 s);
 * - the rescue doctor, which the agent runs after `ready` (it must not delay it): from `ready` to the
 *   doctor's start and to its report `done` (`lifeboat doctor NAME`: startedAt, finishedAt, durationMs);
 * - `rescue exit --wait` (through the agent) until the installed system answers.
 *
 * The VM's boot file URL points at this script's own small HTTP server, which serves either the raw
 * iPXE script and files or the control plane's entry script, so both paths boot the very same VM.
 *
 *   node --import tsx e2e/bench/rescue.bench.ts [--runs N]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { kernelCommandLine } from '@lifeboat/core';
import { ensureRescueImage } from '@lifeboat/image';
import { labStatus, main as lab, readLab, ServerVm } from '@lifeboat/lab';
import type { DoctorView } from '@lifeboat/core/api';
import { freePort, lifeboatJson, ssh, waitFor } from '../support.js';
import { median } from '../../scripts/bench-stats.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '2' } } });
const runs = Number(values.runs);
const cliBin = fileURLToPath(new URL('../../packages/cli/bin/lifeboat.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'lifeboat-rescue-bench-'));
const seconds = (ms: number): number => ms / 1000;
const fmt = (xs: number[], digits = 1): string => `${xs.map((x) => x.toFixed(digits)).join(', ')} s (median ${median(xs).toFixed(digits)})`;
const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);
const loads: number[] = [];
const sampleLoad = (): void => void loads.push(loadavg()[0] ?? 0);

/** What the VM's boot file URL answers: the raw image, or the control plane's iPXE entry script. */
let mode: 'raw' | 'lifeboat' = 'raw';
let controlPlaneUrl = '';

let controlPlane: ChildProcess | undefined;
const labDir = join(work, 'lab');
const bootServer = createServer();
try {
  const image = await ensureRescueImage({ onProgress: log });
  const key = join(work, 'id_ed25519');
  await new Promise((resolve) => spawn('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key], { stdio: 'ignore' }).once('exit', resolve));
  // The same image (kernel, rootfs) with the customer's key in its initrd instead of the agent.
  const raw = await ensureRescueImage({ rescueFiles: [{ path: '/root/.ssh/authorized_keys', content: readFileSync(`${key}.pub`), mode: 0o600 }] });
  const rawFiles: Record<string, string> = {
    '/vmlinuz': join(raw.dir, 'vmlinuz'),
    '/initrd': join(raw.dir, 'initrd'),
    '/rootfs.squashfs': join(raw.dir, 'rootfs.squashfs'),
  };
  const bootPort = await freePort();
  const hostBase = `http://10.0.2.2:${bootPort}`;
  const rawScript = [
    '#!ipxe',
    `kernel --name vmlinuz ${hostBase}/vmlinuz initrd=initrd ${kernelCommandLine({ controlPlaneUrl: 'http://10.0.2.2:9', serverId: 'bench', bootToken: 'none', rootfsUrl: `${hostBase}/rootfs.squashfs` })}`,
    `initrd --name initrd ${hostBase}/initrd`,
    'boot',
    '',
  ].join('\n');
  bootServer.on('request', (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/boot.ipxe' && mode === 'lifeboat') {
      // The control plane's own entry script (it chains to the control plane by MAC).
      void fetch(`${controlPlaneUrl}/boot.ipxe`).then(async (r) => res.writeHead(r.status, { 'content-type': 'text/plain' }).end(await r.text()));
      return;
    }
    if (mode !== 'raw') return void res.writeHead(404).end();
    if (path === '/boot.ipxe') return void res.writeHead(200, { 'content-type': 'text/plain' }).end(rawScript);
    const file = rawFiles[path];
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': statSync(file).size, 'content-type': 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => bootServer.listen(bootPort, '127.0.0.1', resolve));

  // The control plane and one lab server behind IPMI whose boot file is the switch above.
  const dataDir = join(work, 'data');
  mkdirSync(dataDir);
  const port = await freePort();
  controlPlane = spawn(process.execPath, [cliBin, 'serve', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--console-listen', '127.0.0.1:0', '--image', image.dir, '--log-level', 'warn'], {
    stdio: 'ignore',
  });
  controlPlaneUrl = `http://127.0.0.1:${port}`;
  await waitFor('the control plane', async () => (await fetch(`${controlPlaneUrl}/healthz`).catch(() => undefined))?.ok, 60_000, 200);
  const env = { ...process.env, LIFEBOAT_URL: controlPlaneUrl, LIFEBOAT_TOKEN: readFileSync(join(dataDir, 'admin.token'), 'utf8').trim(), LIFEBOAT_LAB: labDir };
  Object.assign(process.env, { LIFEBOAT_URL: env.LIFEBOAT_URL, LIFEBOAT_TOKEN: env.LIFEBOAT_TOKEN, LIFEBOAT_LAB: labDir });
  if ((await lab(['up', '--servers', '1', '--register', '--bmc', 'ipmi', '--off', '--boot-url', `${hostBase}/boot.ipxe`])) !== 0) throw new Error('lab up failed');
  const server = labStatus(labDir).servers[0]!;
  const record = readLab(labDir)?.servers[0];
  if (!record) throw new Error('the lab has no server');
  const vm = new ServerVm(join(labDir, 'servers', record.name), record.disks.length);

  // (a) raw: power on with the boot device on the network, the static script and files.
  const rawLogin: number[] = [];
  for (let i = 0; i < runs; i++) {
    mode = 'raw';
    if (vm.powerState() === 'on') await vm.forceOff();
    await vm.setBootDevice('network');
    const started = Date.now();
    await vm.powerOn();
    await waitFor('an SSH login to the raw rescue image', async () => (await ssh(server.ssh.port, { keyFile: key }, 'true', 15_000)).code === 0, 300_000, 200);
    rawLogin.push(seconds(Date.now() - started));
    sampleLoad();
    log(`raw: power-on → iPXE → SSH login: ${rawLogin.at(-1)!.toFixed(1)} s`);
    await vm.forceOff();
  }

  // (b) Lifeboat, from the running installed system.
  mode = 'lifeboat';
  await vm.setBootDevice('disk');
  await vm.powerOn();
  const installed = async (): Promise<void> => {
    await waitFor('the installed system', async () => (await ssh(server.ssh.port, { keyFile: server.osLogin!.keyFile }, 'true', 20_000)).code === 0, 600_000, 2000);
  };
  await installed();
  const toReady: number[] = [];
  const toLogin: number[] = [];
  const sshdToReady: number[] = [];
  const readyToDoctorStart: number[] = [];
  const readyToDoctorDone: number[] = [];
  const doctorRun: number[] = [];
  const doctorFindings: number[] = [];
  const toDisk: number[] = [];
  const exitWays: string[] = [];
  for (let i = 0; i < runs; i++) {
    const started = Date.now();
    await lifeboatJson(['rescue', 'enter', server.name, '--ssh-key', `${key}.pub`, '--wait'], env);
    toReady.push(seconds(Date.now() - started));
    await waitFor('an SSH login to the rescue system', async () => (await ssh(server.ssh.port, { keyFile: key }, 'true', 15_000)).code === 0, 120_000, 200);
    toLogin.push(seconds(Date.now() - started));
    sampleLoad();
    log(`rescue enter → SSH login: ${toLogin.at(-1)!.toFixed(1)} s`);
    const { tasks } = await lifeboatJson<{ tasks: TaskJson[] }>(['tasks', server.name], env);
    const enter = tasks.find((t) => t.kind === 'enter_rescue');
    const at = (name: string): number => Date.parse(enter?.steps.find((s) => s.name === name)?.endedAt ?? 'x');
    sshdToReady.push(seconds(at('ready') - at('sshd_started')));
    log(`sshd_started → ready: ${sshdToReady.at(-1)!.toFixed(2)} s`);
    const doctor = await waitFor('the doctor\'s report', async () => {
      const view = await lifeboatJson<DoctorView>(['doctor', server.name], env);
      return view.report.state === 'running' ? undefined : view.report;
    }, 300_000, 500);
    if (doctor.state !== 'done') throw new Error(`the doctor failed: ${doctor.error ?? '?'}`);
    readyToDoctorStart.push(seconds(Date.parse(doctor.startedAt) - at('ready')));
    readyToDoctorDone.push(seconds(Date.parse(doctor.finishedAt ?? 'x') - at('ready')));
    doctorRun.push(seconds(doctor.durationMs ?? Number.NaN));
    doctorFindings.push(doctor.findings.length);
    log(`ready → doctor done: ${readyToDoctorDone.at(-1)!.toFixed(1)} s (run ${doctorRun.at(-1)!.toFixed(1)} s, ${doctor.findings.length} finding(s))`);
    const exitStarted = Date.now();
    await lifeboatJson(['rescue', 'exit', server.name, '--wait'], env);
    toDisk.push(seconds(Date.now() - exitStarted));
    const after = await lifeboatJson<{ tasks: TaskJson[] }>(['tasks', server.name], env);
    exitWays.push(after.tasks.find((t) => t.kind === 'exit_rescue')?.steps.find((s) => s.name === 'rebooted')?.detail ?? '?');
    await installed();
  }
  const ratio = median(toLogin) / median(rawLogin);
  console.log(
    [
      '| measure | value | note |',
      '| --- | --- | --- |',
      `| (a) raw: power-on → iPXE → static HTTP → SSH login | ${fmt(rawLogin)} | same lab VM (TCG, 1 vCPU), same image, no control plane, no BMC, no agent |`,
      `| \`rescue enter --wait\` → state rescue | ${fmt(toReady)} | IPMI, clean ACPI shutdown of the installed OS, iPXE, agent |`,
      `| (b) \`rescue enter\` → SSH login with the customer's key | ${fmt(toLogin)} | ratio (b)/(a): ${ratio.toFixed(2)} |`,
      `| (c) timeline \`sshd_started\` → \`ready\` | ${fmt(sshdToReady, 2)} | must be < 1 s: ${sshdToReady.every((s) => s < 1) ? 'yes' : 'NO'} |`,
      `| (d) \`ready\` → the doctor starts | ${fmt(readyToDoctorStart, 2)} | the agent starts it after \`ready\` and \`ready\` does not wait for it: (c) holds no doctor time; the start is read on the rescue system's clock, which may differ from the control plane's by about a second |`,
      `| (e) \`ready\` → the doctor's report \`done\` | ${fmt(readyToDoctorDone)} | the run itself (durationMs): ${fmt(doctorRun)}; findings on the healthy lab disk: ${doctorFindings.join(', ')} |`,
      `| \`rescue exit --wait\` → installed system answers SSH | ${fmt(toDisk)} | ${[...new Set(exitWays)].join(' / ')} |`,
      `| load average (1 min) at each login | ${loads.map((l) => l.toFixed(1)).join(', ')} | ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB |`,
    ].join('\n'),
  );
  if (!sshdToReady.every((s) => s < 1)) process.exitCode = 1;
} finally {
  process.env.LIFEBOAT_LAB = labDir;
  await lab(['down']).catch(() => 1);
  if (controlPlane && controlPlane.exitCode === null) {
    const exited = new Promise((resolve) => controlPlane!.once('exit', resolve));
    controlPlane.kill('SIGTERM');
    await exited;
  }
  await new Promise((resolve) => bootServer.close(resolve));
  rmSync(work, { recursive: true, force: true });
}

interface TaskJson {
  kind: string;
  steps: Array<{ name: string; state: string; detail?: string | null; endedAt?: string | null }>;
}
