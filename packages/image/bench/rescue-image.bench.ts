/**
 * Rescue image benchmark: sizes, build times (cold as recorded when the root file system was built,
 * or measured with --cold; cached; after an agent change), and boot-to-SSH under TCG of the full image
 * beside a busybox-only initramfs running sshd on the same VM.
 *
 *   node --import tsx packages/image/bench/rescue-image.bench.ts [--runs N] [--cold]
 *
 * Boot times on a shared 2-core machine are inflated by whatever else runs: the load average is
 * printed beside them.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureRescueImage } from '../src/index.js';
import { bootVm, serveFiles } from '../test/vm-boot.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '2' }, cold: { type: 'boolean', default: false } } });
const runs = Number(values.runs);
const work = mkdtempSync(join(tmpdir(), 'lifeboat-image-bench-'));
const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
const load = (): string => loadavg()[0]?.toFixed(1) ?? '?';
const rows: string[] = [];
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

  // The full image without the agent (no control plane here): init starts sshd itself.
  const key = join(work, 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  const sshImage = await ensureRescueImage({ rescueFiles: [{ path: '/root/.ssh/authorized_keys', content: readFileSync(`${key}.pub`), mode: 0o600 }] });
  const files = await serveFiles([join(sshImage.dir, 'rootfs.squashfs')]);
  const baseline = buildBaselineInitrd(join(image.dir, 'initrd'), work);
  const append = `lifeboat.url=http://10.0.2.2:9 lifeboat.server=bench lifeboat.token=x lifeboat.rootfs=http://10.0.2.2:${files.port}/rootfs.squashfs`;
  const time = async (initrd: string): Promise<number> => {
    const vm = await bootVm({ vmlinuz: join(image.dir, 'vmlinuz'), initrd, append, workDir: work });
    try {
      await vm.waitForSshBanner(240_000);
      return (Date.now() - vm.startedAt) / 1000;
    } finally {
      await vm.stop();
    }
  };
  const full: number[] = [];
  const base: number[] = [];
  for (let i = 0; i < runs; i++) {
    base.push(await time(baseline));
    full.push(await time(join(sshImage.dir, 'initrd')));
  }
  await files.close();
  const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(', ') + ' s';
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  row('boot to SSH banner, busybox-only initramfs + sshd (TCG, 1 vCPU)', fmt(base), `load ${load()}`);
  row('boot to SSH banner, full rescue image over HTTP (TCG, 1 vCPU)', fmt(full), `ratio ${(median(full) / median(base)).toFixed(2)} (target ≤ 1.5)`);
  console.log(['| measure | value | note |', '| --- | --- | --- |', ...rows].join('\n'));
} finally {
  rmSync(work, { recursive: true, force: true });
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
      'for p in 1 2; do for a in $(cat /sys/bus/*/devices/*/modalias | sort -u); do modprobe -q $a; done; done',
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
