/**
 * Rescue image benchmark: sizes, build times (cold as recorded when the root file system was built,
 * or measured with --cold; cached; after an agent change), and boot-to-SSH under TCG of the full image
 * beside a busybox-only initramfs running sshd on the same VM.
 *
 *   node --import tsx packages/image/bench/rescue-image.bench.ts [--runs N] [--cold] [--no-agent] [--kernel-args WORDS]
 *
 * Boot times on a shared 2-core machine are inflated by whatever else runs: the load average is
 * printed beside each, and so is the CPU time QEMU used, which load changes much less.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestControlPlane } from '@lifeboat/test-support';
import type { TestControlPlane, TestMachine } from '@lifeboat/test-support';
import { ssh } from '@lifeboat/test-support';
import { kernelCommandLine } from '@lifeboat/core';
import { ensureRescueImage } from '../src/index.js';
import { bootVm, freePort, serveFiles } from '@lifeboat/test-support';
import type { BootedVm } from '@lifeboat/test-support';
import { median } from '../../../scripts/bench-stats.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    cold: { type: 'boolean', default: false },
    'no-agent': { type: 'boolean', default: false },
    // Extra kernel command line words for every boot, the baseline's too (e.g. `loglevel=4`).
    'kernel-args': { type: 'string', default: '' },
  },
});
const runs = Number(values.runs);
const work = mkdtempSync(join(tmpdir(), 'lifeboat-image-bench-'));
const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
const load = (): string => loadavg()[0]?.toFixed(1) ?? '?';
const rows: string[] = [];
/** One boot: seconds from starting QEMU to the first SSH banner, QEMU's CPU seconds by then, the load. */
interface Sample {
  readonly seconds: number;
  readonly cpu: number;
  readonly load: number;
}
/** A boot with the agent: the banner, then the control plane's "rescue" state, then a password login. */
interface AgentSample {
  readonly banner: Sample;
  readonly ready: number;
  readonly login: number;
}
const row = (what: string, value: string, note = ''): void => {
  rows.push(`| ${what} | ${value} | ${note} |`);
  console.error(`${what}: ${value} ${note}`);
};

try {
  if (values.cold) {
    const started = Date.now();
    await ensureRescueImage({ cacheDir: join(work, 'cold-cache'), onProgress: (l) => console.error(`  ${l}`) });
    row('build, cold (empty cache)', `${((Date.now() - started) / 1000).toFixed(0)} s`, `load ${load()}`);
  }
  let started = Date.now();
  const image = await ensureRescueImage({ onProgress: (l) => console.error(`  ${l}`) });
  const m = image.manifest;
  if (!values.cold) {
    const bootstrap = m.bootstrapSeconds === null || m.bootstrapSeconds === undefined ? 'not recorded' : `${m.bootstrapSeconds.toFixed(0)} s`;
    row('build, cold: mmdebstrap (recorded when built)', bootstrap);
    row('build, cold: prune + mksquashfs (recorded when built)', `${m.rootfsBuildSeconds.toFixed(0)} s`, `built ${m.rootfsBuiltAt}`);
  }
  started = Date.now();
  await ensureRescueImage();
  row('build, nothing changed (cache hit)', `${((Date.now() - started) / 1000).toFixed(2)} s`);
  started = Date.now();
  const changed = await ensureRescueImage({ rescueFiles: [{ path: '/opt/lifeboat/bench', content: Buffer.from(String(Date.now())), mode: 0o644 }] });
  row('build after an agent/helper change (initrd only)', `${((Date.now() - started) / 1000).toFixed(1)} s`);
  rmSync(changed.dir, { recursive: true, force: true });

  row('vmlinuz', mb(m.files.vmlinuz.size));
  row('initrd (busybox, boot modules, agent, helpers; zstd)', mb(m.files.initrd.size));
  row(`rootfs.squashfs (${m.squashfsCompression})`, mb(m.files['rootfs.squashfs'].size), `${mb(m.rootfsTreeBytes)} unpacked, ${m.packages.length} packages`);
  row('total download', mb(m.totalBytes), m.totalBytes <= 80e6 ? 'target ≤ 80 MB: met' : 'target ≤ 80 MB: NOT met');

  // Three boots a run, one VM at a time: the busybox-only baseline; the full image without the agent
  // (init starts sshd itself, with a key put into the image); the full image with the agent against
  // a real control plane (@lifeboat/test-support's startTestControlPlane), as a customer's rescue boots.
  const key = join(work, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const sshImage = await ensureRescueImage({ rescueFiles: [{ path: '/root/.ssh/authorized_keys', content: readFileSync(`${key}.pub`), mode: 0o600 }] });
  const files = await serveFiles([join(sshImage.dir, 'rootfs.squashfs')]);
  const baseline = buildBaselineInitrd(join(image.dir, 'initrd'), work);
  const rootfsUrl = `http://10.0.2.2:${files.port}/rootfs.squashfs`;
  const append = `lifeboat.url=http://10.0.2.2:9 lifeboat.server=bench lifeboat.token=x lifeboat.rootfs=${rootfsUrl} ${values['kernel-args']}`.trim();
  const time = async (initrd: string): Promise<Sample> => {
    const vm = await bootVm({ vmlinuz: join(image.dir, 'vmlinuz'), initrd, append, workDir: work });
    try {
      await vm.waitForSshBanner(240_000);
      return { seconds: (Date.now() - vm.startedAt) / 1000, cpu: vm.cpuSeconds(), load: loadavg()[0] ?? NaN };
    } finally {
      await vm.stop();
    }
  };
  if (values['kernel-args']) row('extra kernel command line, every boot', `\`${values['kernel-args']}\``);
  const base: Sample[] = [];
  const full: Sample[] = [];
  const agent: AgentSample[] = [];
  for (let i = 0; i < runs; i++) {
    base.push(await time(baseline));
    full.push(await time(join(sshImage.dir, 'initrd')));
    if (!values['no-agent']) agent.push(await timeWithAgent(image.dir, rootfsUrl, work, i));
  }
  await files.close();
  const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(', ') + ' s';
  const loads = (xs: Sample[]): string => `load ${xs.map((x) => x.load.toFixed(1)).join(', ')}`;
  const secs = (xs: Sample[]): number[] => xs.map((x) => x.seconds);
  const cpus = (xs: Sample[]): number[] => xs.map((x) => x.cpu);
  const ratio = (xs: number[], ys: number[]): string => (median(xs) / median(ys)).toFixed(2);
  row('boot to SSH banner, busybox-only initramfs + sshd (TCG, 1 vCPU)', fmt(secs(base)), `median ${median(secs(base)).toFixed(1)} s; QEMU CPU ${fmt(cpus(base))}; ${loads(base)}`);
  row(
    'boot to SSH banner, full rescue image over HTTP, no agent (TCG, 1 vCPU)',
    fmt(secs(full)),
    `median ${median(secs(full)).toFixed(1)} s, **ratio ${ratio(secs(full), secs(base))}** (target ≤ 1.5; QEMU CPU ${fmt(cpus(full))}, ratio ${ratio(cpus(full), cpus(base))}); ${loads(full)}`,
  );
  if (agent.length > 0) {
    const banner = agent.map((a) => a.banner);
    row(
      'boot to SSH banner, full image with the agent and a control plane',
      fmt(secs(banner)),
      `median ${median(secs(banner)).toFixed(1)} s, ratio ${ratio(secs(banner), secs(base))} (QEMU CPU ${fmt(cpus(banner))}); ${loads(banner)}`,
    );
    const ready = agent.map((a) => a.ready);
    row('boot to rescue ready in the control plane (sshd up, host keys reported)', fmt(ready), `median ${median(ready).toFixed(1)} s, ratio ${(median(ready) / median(secs(base))).toFixed(2)}`);
    const login = agent.map((a) => a.login);
    row('boot to the first password login done (`ssh root@... true` after ready)', fmt(login), `median ${median(login).toFixed(1)} s, ratio ${(median(login) / median(secs(base))).toFixed(2)}`);
  }
  console.log(['| measure | value | note |', '| --- | --- | --- |', ...rows].join('\n'));
} finally {
  rmSync(work, { recursive: true, force: true });
}

/**
 * One rescue boot as a customer has it: a control plane (a fresh one, its data in `work`) with one
 * server whose "BMC" boots the full image (with the agent) in QEMU; `POST .../rescue`, then the times
 * from QEMU's start to the SSH banner, to the control plane's `rescue` state (the agent redeemed its
 * token, started sshd, reported host keys; the inventory follows) and to a password login with the known_hosts
 * the control plane published.
 */
async function timeWithAgent(imageDir: string, rootfsUrl: string, work: string, run: number): Promise<AgentSample> {
  const sshPort = await freePort();
  let vm: BootedVm | undefined;
  let cp: TestControlPlane | undefined;
  const machine: TestMachine = {
    get poweredOn() {
      return vm !== undefined && !stopped;
    },
    async bootRescue(boot) {
      const append = kernelCommandLine({ controlPlaneUrl: boot.url, serverId: boot.serverId, bootToken: boot.bootToken, rootfsUrl }).replace(/^console=\S+ /, '') + (values['kernel-args'] ? ` ${values['kernel-args']}` : '');
      vm = await bootVm({ vmlinuz: join(imageDir, 'vmlinuz'), initrd: join(imageDir, 'initrd'), append, workDir: work, sshPort });
      stopped = false;
    },
    async powerOff() {
      await vm?.stop();
      stopped = true;
    },
  };
  let stopped = true;
  cp = await startTestControlPlane(join(work, `control-plane-${run}`), '52:54:00:be:0c:01', machine);
  try {
    await cp.api('POST', '/v1/tenants', { name: 'bench' });
    await cp.api('POST', '/v1/servers', {
      name: 'bench-1',
      tenant: 'bench',
      macs: ['52:54:00:be:0c:01'],
      bmc: cp.bmc.record,
      sshEndpoint: `127.0.0.1:${sshPort}`,
    });
    const entered = await cp.api<{ ssh: { password?: string } }>('POST', '/v1/servers/bench-1/rescue', {}, 202);
    const deadline = Date.now() + 240_000;
    while (!vm) {
      if (Date.now() > deadline) throw new Error('the control plane never powered the machine on');
      await sleep(50);
    }
    const booted = vm;
    const banner = booted.waitForSshBanner(240_000).then(() => ({ seconds: (Date.now() - booted.startedAt) / 1000, cpu: booted.cpuSeconds(), load: loadavg()[0] ?? NaN }));
    let view: { state: string; reason: string | null; ssh: { knownHosts: string[] } };
    for (;;) {
      view = await cp.api('GET', '/v1/servers/bench-1/rescue');
      if (view.state === 'rescue') break;
      if (view.state === 'rescue_failed') throw new Error(`rescue failed: ${view.reason}\n${booted.serialLog().slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`no rescue state after 240 s (${view.state})\n${booted.serialLog().slice(-3000)}`);
      await sleep(100);
    }
    const ready = (Date.now() - booted.startedAt) / 1000;
    const knownHosts = join(work, `known_hosts-${run}`);
    writeFileSync(knownHosts, `${view.ssh.knownHosts.join('\n')}\n`);
    const login = await ssh({ port: sshPort, knownHosts, password: entered.ssh.password ?? '' }, 'true');
    if (login.code !== 0) throw new Error(`password login failed: ${login.stderr}`);
    return { banner: await banner, ready, login: (Date.now() - booted.startedAt) / 1000 };
  } finally {
    await cp.close();
  }
}

/**
 * The baseline: the same kernel, a busybox initramfs with the image's boot modules, the host's sshd
 * and its libraries and a host key made here (no key generation at boot): the least a netbooted
 * SSH-reachable system can do.
 */
function buildBaselineInitrd(imageInitrd: string, dir: string): string {
  const unpacked = join(dir, 'baseline');
  mkdirSync(unpacked, { recursive: true });
  execFileSync('sh', ['-c', `zstd -dc '${imageInitrd}' | (cd '${unpacked}' && cpio -idm --quiet 'lib/modules/*' 'bin/*' 'sbin')`]);
  const libs = execFileSync('ldd', ['/usr/sbin/sshd'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /(\/\S+)\s+\(0x/.exec(l)?.[1])
    .filter((l): l is string => Boolean(l));
  for (const path of ['/usr/sbin/sshd', ...libs]) {
    mkdirSync(join(unpacked, dirname(path)), { recursive: true });
    copyFileSync(path, join(unpacked, path));
  }
  mkdirSync(join(unpacked, 'etc/ssh'), { recursive: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(unpacked, 'etc/ssh/ssh_host_ed25519_key')]);
  writeFileSync(join(unpacked, 'etc/ssh/sshd_config'), 'HostKey /etc/ssh/ssh_host_ed25519_key\nUsePAM no\n');
  writeFileSync(join(unpacked, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n');
  writeFileSync(join(unpacked, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(
    join(unpacked, 'init'),
    [
      '#!/bin/sh',
      'export PATH=/bin:/sbin',
      'mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev',
      // As the image's initrd does: one modprobe per pass (virtio_pci brings the NIC's alias).
      'for p in 1 2; do modprobe -a -q $(cat /sys/bus/*/devices/*/modalias); done',
      'ip link set lo up; ip link set eth0 up',
      'udhcpc -i eth0 -n -q -s /udhcpc.script',
      'mkdir -p /run/sshd /var/empty; /usr/sbin/sshd -E /dev/console',
      'exec sh',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  writeFileSync(
    join(unpacked, 'udhcpc.script'),
    '#!/bin/sh\n[ "$1" = bound ] && ip addr add $ip/${mask:-24} dev $interface && ip route add default via $router\nexit 0\n',
    { mode: 0o755 },
  );
  for (const d of ['proc', 'sys', 'dev', 'run', 'tmp', 'root']) mkdirSync(join(unpacked, d), { recursive: true });
  execFileSync('mknod', [join(unpacked, 'dev/console'), 'c', '5', '1']);
  const cpio = join(dir, 'baseline.cpio');
  execFileSync('sh', ['-c', `cd '${unpacked}' && find . | cpio -o -H newc --quiet > '${cpio}'`]);
  const out = join(dir, 'baseline.initrd');
  execFileSync('zstd', ['-q', '-f', '-19', cpio, '-o', out]);
  return out;
}
