/**
 * A tiny bootable image for netboot tests: Debian's kernel (taken from its package with `apt-get
 * download`, nothing installed) and a busybox initramfs whose /init prints the kernel command line on
 * the serial console and powers off. Cached under `$LIFEBOAT_CACHE/netboot-test/<hash>/`.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** What /init prints before the command line, so a test can find it in the serial log. */
export const initMarker = 'LIFEBOAT-TINY-INIT';

const init = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
echo "${initMarker} $(/bin/busybox cat /proc/cmdline)"
/bin/busybox poweroff -f
`;

function cacheRoot(): string {
  return process.env.LIFEBOAT_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lifeboat');
}

function run(command: string, args: readonly string[], cwd?: string): string {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The directory holding `vmlinuz` and `initrd`; built on first use (≈ 70 MB download). */
export function tinyBootImage(): string {
  const kernelPackage = /Depends: (linux-image-[^\s,]+)/.exec(run('apt-cache', ['show', '--no-all-versions', 'linux-image-amd64']))?.[1];
  if (!kernelPackage) throw new Error('apt-cache does not know linux-image-amd64');
  const key = createHash('sha256').update(`${kernelPackage}\n${init}`).digest('hex').slice(0, 16);
  const dir = join(cacheRoot(), 'netboot-test', key);
  if (existsSync(join(dir, 'initrd'))) return dir;
  mkdirSync(join(cacheRoot(), 'netboot-test'), { recursive: true });
  const work = mkdtempSync(join(cacheRoot(), 'netboot-test', '.work-'));
  try {
    chmodSync(work, 0o777); // apt-get download drops privileges to _apt
    run('apt-get', ['download', '-q', kernelPackage], work);
    const deb = readdirSync(work).find((name) => name.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${kernelPackage} left no .deb`);
    execFileSync('sh', ['-c', `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards './boot/vmlinuz-*'`, 'sh', join(work, deb), work]);
    const kernel = readdirSync(join(work, 'boot')).find((name) => name.startsWith('vmlinuz-'));
    if (!kernel) throw new Error(`${kernelPackage} holds no /boot/vmlinuz-*`);
    const out = join(work, 'out');
    mkdirSync(out);
    renameSync(join(work, 'boot', kernel), join(out, 'vmlinuz'));
    const tree = join(work, 'tree');
    for (const sub of ['bin', 'proc', 'dev']) mkdirSync(join(tree, sub), { recursive: true });
    copyFileSync('/bin/busybox', join(tree, 'bin', 'busybox'));
    chmodSync(join(tree, 'bin', 'busybox'), 0o755);
    symlinkSync('busybox', join(tree, 'bin', 'sh'));
    writeFileSync(join(tree, 'init'), init, { mode: 0o755 });
    run('mknod', [join(tree, 'dev', 'console'), 'c', '5', '1']);
    execFileSync('sh', ['-c', 'find . | cpio -o -H newc --quiet | gzip -1 > "$1"', 'sh', join(out, 'initrd')], { cwd: tree });
    try {
      renameSync(out, dir);
    } catch (error) {
      if (!existsSync(join(dir, 'initrd'))) throw error; // another test built it meanwhile
    }
    return dir;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
