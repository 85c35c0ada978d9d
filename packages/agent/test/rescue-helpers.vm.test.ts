/**
 * The rescue helpers in the situations the other VM tests leave out, in one rescue VM boot (QEMU,
 * TCG, direct -kernel/-initrd, a real control plane, key login), on blank disks laid out by
 * make-layouts.sh inside the VM: vda an installed system (plain), vdb a btrfs, vdc a FAT16 volume.
 * - rescue-fsck on btrfs and vfat damaged on purpose: the check reports it, --repair fixes it, a
 *   second check is clean, the data is intact; refused while mounted.
 * - rescue-backup to another host: an OpenSSH server the test starts on the host's loopback (its own
 *   config, host key and authorized key), reached from the guest at 10.0.2.2:PORT.
 * - rescue-passwd and rescue-chroot typed into a real terminal (ssh -tt), as a customer does.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sshCommands, startRescueHarness } from './rescue-harness.js';
import type { RescueHarness } from './rescue-harness.js';
import { freePort, sshBanner, sshInvocation, waitFor } from '@lifeboat/test-support';
import type { SshLogin } from '@lifeboat/test-support';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-rescue-helpers-vm-'));
const mac = '52:54:00:ab:cd:03';
const log = (line: string): void => void process.stdout.write(`# ${line}\n`);

/** Blank disks (sparse files): vda the installed system, vdb btrfs, vdc vfat. */
const diskSizesMiB = [512, 384, 128];
const disks = diskSizesMiB.map((_, i) => join(work, `disk${i}.raw`));

let harness: RescueHarness;
let login: SshLogin;
const { run, ok } = sshCommands(() => login, log);

before(async () => {
  disks.forEach((disk, i) => execFileSync('truncate', ['-s', `${diskSizesMiB[i]}M`, disk]));
  harness = await startRescueHarness({ work, mac, serverName: 'app-1', disks: () => disks, log });
});

after(async () => {
  await hostSshd?.stop();
  await harness?.close();
});

/** Reads `length` bytes of a guest block device at byte `offset`. */
async function readDevice(device: string, offset: number, length: number): Promise<Buffer> {
  const out = await ok(`dd if=${device} iflag=skip_bytes,count_bytes skip=${offset} count=${length} bs=64K status=none | base64 -w0`);
  const bytes = Buffer.from(out.trim(), 'base64');
  assert.equal(bytes.length, length);
  return bytes;
}

/** Writes bytes to a guest block device at byte `offset` (the damage, done as a bad disk or a crash would). */
async function writeDevice(device: string, offset: number, bytes: Buffer): Promise<void> {
  await ok(`base64 -d | dd of=${device} oflag=seek_bytes seek=${offset} bs=64K conv=notrunc,fsync status=none`, bytes.toString('base64'));
}

/** CRC-32C (Castagnoli), btrfs's default checksum of its tree blocks. */
function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** `sha256sum` lines of every file under a guest directory, by path relative to it. */
const checksumsCommand = (dir: string): string => `cd '${dir}' && find . -type f -print0 | sort -z | xargs -0 sha256sum`;

test('boots into rescue with a key; an installed system, a btrfs and a FAT volume are laid out on the blank disks', async () => {
  login = await harness.enterWithKey();
  await ok('cat > /run/make-layouts.sh', readFileSync(join(import.meta.dirname, 'make-layouts.sh'), 'utf8'));
  assert.match(await ok('bash /run/make-layouts.sh plain=vda btrfs=vdb vfat=vdc < /dev/null'), /layouts-ready/);
  const types = await ok('for d in /dev/vda1 /dev/vdb /dev/vdc1; do echo "$d $(blkid -c /dev/null -o value -s TYPE $d)"; done');
  assert.equal(types, '/dev/vda1 ext4\n/dev/vdb btrfs\n/dev/vdc1 vfat\n');
});

test('btrfs: a wrong link count is reported by the check, fixed by --repair, then clean; the data is intact', async () => {
  const check = await run('rescue-fsck /dev/vdb');
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /checking btrfs on \/dev\/vdb/);

  await ok('mkdir -p /run/t && mount /dev/vdb /run/t');
  const refused = await run('rescue-fsck --repair /dev/vdb');
  assert.equal(refused.code, 4, refused.stderr);
  assert.match(refused.stderr, /refused: \/dev\/vdb is mounted on \/run\/t/);
  const sums = await ok(`${checksumsCommand('/run/t')} | tee /run/sums-btrfs`);
  assert.equal(sums.trim().split('\n').length, 6, sums);
  await ok('umount /run/t');

  // The damage: one file's inode says it has one link more than the directories give it, written
  // into the fs tree's leaf with a valid checksum (what a bug or a bad write leaves behind).
  const dump = await ok('btrfs inspect-internal dump-tree -t 5 /dev/vdb');
  const leaf = /^leaf (\d+) items/m.exec(dump)?.[1];
  assert.ok(leaf, `the fs tree is one leaf:\n${dump.slice(0, 500)}`);
  const nodeSize = Number(/^nodesize\s+(\d+)/m.exec(await ok('btrfs inspect-internal dump-super /dev/vdb'))?.[1]);
  const mapped = await ok(`btrfs-map-logical -l ${leaf} -b ${nodeSize} /dev/vdb`);
  const copies = [...mapped.matchAll(/physical (\d+) device \/dev\/vdb/g)].map((m) => Number(m[1]));
  assert.equal(copies.length, 1, `metadata single: one copy\n${mapped}`);
  const physical = copies[0] as number;
  const block = await readDevice('/dev/vdb', physical, nodeSize);
  assert.equal(block.readUInt32LE(0), crc32c(block.subarray(32)), 'the leaf read back is the one btrfs wrote');
  const headerSize = 101;
  const itemSize = 25;
  let inode = 0n;
  for (let i = 0; i < block.readUInt32LE(96) && inode === 0n; i++) {
    const item = headerSize + itemSize * i;
    const objectId = block.readBigUInt64LE(item);
    const data = headerSize + block.readUInt32LE(item + 17);
    // INODE_ITEM (type 1) of a regular file: nlink at +40, mode at +52.
    if (block[item + 8] === 1 && objectId >= 257n && (block.readUInt32LE(data + 52) & 0o170000) === 0o100000) {
      block.writeUInt32LE(block.readUInt32LE(data + 40) + 1, data + 40);
      inode = objectId;
    }
  }
  assert.notEqual(inode, 0n, 'a file inode in the leaf');
  block.writeUInt32LE(crc32c(block.subarray(32)), 0);
  await writeDevice('/dev/vdb', physical, block);

  const damaged = await run('rescue-fsck /dev/vdb');
  assert.equal(damaged.code, 1, damaged.stdout + damaged.stderr);
  assert.match(damaged.stdout + damaged.stderr, new RegExp(`root 5 inode ${inode} errors \\S+, link count wrong`));
  const repaired = await run('rescue-fsck --repair /dev/vdb');
  assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
  assert.match(repaired.stdout + repaired.stderr, new RegExp(`Fixed the nlink of inode ${inode}`));
  const clean = await run('rescue-fsck /dev/vdb');
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /\/dev\/vdb: clean/);

  await ok('mount /dev/vdb /run/t');
  await ok('cd /run/t && sha256sum --quiet -c /run/sums-btrfs');
  await ok('umount /run/t');
});

test('vfat: a lost cluster chain is reported by the check, reclaimed by --repair, then clean; the data is intact', async () => {
  const check = await run('rescue-fsck /dev/vdc1');
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /checking vfat on \/dev\/vdc1/);

  await ok('mount /dev/vdc1 /run/t');
  for (const device of ['/dev/vdc1', '/dev/vdc']) {
    const refused = await run(`rescue-fsck --repair ${device}`);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /refused: .*mounted on \/run\/t/);
  }
  const sums = await ok(`${checksumsCommand('/run/t')} | tee /run/sums-vfat`);
  assert.equal(sums.trim().split('\n').length, 4, sums);
  await ok('umount /run/t');

  // The damage: the last cluster marked as allocated (end of chain) in both FATs, with no file
  // using it, as a crash between allocating and writing the directory entry leaves it.
  const boot = await readDevice('/dev/vdc1', 0, 512);
  assert.equal(boot.toString('latin1', 54, 62), 'FAT16   ');
  const bytesPerSector = boot.readUInt16LE(11);
  const sectorsPerCluster = boot[13] as number;
  const reserved = boot.readUInt16LE(14);
  const fats = boot[16] as number;
  const rootEntries = boot.readUInt16LE(17);
  const totalSectors = boot.readUInt16LE(19) || boot.readUInt32LE(32);
  const fatSectors = boot.readUInt16LE(22);
  const dataSectors = totalSectors - reserved - fats * fatSectors - Math.ceil((rootEntries * 32) / bytesPerSector);
  const lastCluster = Math.floor(dataSectors / sectorsPerCluster) + 1;
  for (let copy = 0; copy < fats; copy++) {
    const entry = (reserved + copy * fatSectors) * bytesPerSector + 2 * lastCluster;
    assert.equal((await readDevice('/dev/vdc1', entry, 2)).readUInt16LE(0), 0, 'the cluster was free');
    await writeDevice('/dev/vdc1', entry, Buffer.from([0xff, 0xff]));
  }

  const damaged = await run('rescue-fsck /dev/vdc1');
  assert.equal(damaged.code, 1, damaged.stdout + damaged.stderr);
  assert.match(damaged.stdout, /Reclaimed 1 unused cluster/);
  assert.match(damaged.stdout, /Leaving filesystem unchanged/);
  const repaired = await run('rescue-fsck --repair /dev/vdc1');
  // fsck.fat exits 1 when it corrected errors.
  assert.equal(repaired.code, 1, repaired.stdout + repaired.stderr);
  assert.match(repaired.stdout, /Reclaimed 1 unused cluster .* in 1 chain/);
  assert.match(repaired.stdout, /Filesystem was changed/);
  const clean = await run('rescue-fsck /dev/vdc1');
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
  assert.match(clean.stdout, /\/dev\/vdc1: clean/);

  await ok('mount /dev/vdc1 /run/t');
  await ok('cd /run/t && sha256sum --quiet -c /run/sums-vfat');
  // The reclaimed chain is kept as a file, not thrown away.
  assert.match(await ok('ls /run/t'), /FSCK0000\.REC/);
  await ok('umount /run/t');
});

/** An OpenSSH server on the host's loopback, started and stopped by the test. */
interface HostSshd {
  readonly port: number;
  readonly hostKey: string;
  readonly authorizedKeys: string;
  stop(): Promise<void>;
}
let hostSshd: HostSshd | undefined;

async function startHostSshd(dir: string): Promise<HostSshd> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'backup-host', '-f', hostKey]);
  const authorizedKeys = join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, '', { mode: 0o600 });
  const config = join(dir, 'sshd_config');
  writeFileSync(config, [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKey}`, 'PidFile none', 'UsePAM no',
    'PermitRootLogin prohibit-password', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
    `AuthorizedKeysFile ${authorizedKeys}`,
    // The files sit under /tmp, which is world-writable: sshd's ownership walk would refuse them.
    'StrictModes no', '',
  ].join('\n'));
  // sshd started as root insists on its privilege separation directory.
  const privsep = '/run/sshd';
  const madePrivsep = !existsSync(privsep);
  if (madePrivsep) mkdirSync(privsep, { mode: 0o755 });
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  await waitFor('the host sshd', async () => {
    if (exited) throw new Error(`sshd exited: ${stderr}`);
    return (await sshBanner(port)) ? true : undefined;
  }, 30_000);
  return {
    port,
    hostKey,
    authorizedKeys,
    stop: async () => {
      if (!exited && child.pid !== undefined) {
        const gone = new Promise((r) => child.once('exit', r));
        process.kill(child.pid, 'SIGTERM');
        await gone;
      }
      if (madePrivsep) rmSync(privsep, { recursive: true, force: true });
    },
  };
}

test('rescue-backup copies a mounted installed system\'s data to another host over SSH (port, identity): checksums, owners, modes, links', async () => {
  hostSshd = await startHostSshd(join(work, 'backup-host'));
  const destination = join(work, 'backup-host', 'dest');
  mkdirSync(destination);
  await ok('rescue-mount --root /dev/vda1');
  // The customer's side: a key for the backup host (a space in its name, which must stay one
  // argument through rsync's -e), and that host's key as known.
  const publicKey = await ok('ssh-keygen -q -t ed25519 -N "" -C rescue-backup -f "/root/.ssh/backup key" && cat "/root/.ssh/backup key.pub"');
  writeFileSync(hostSshd.authorizedKeys, publicKey);
  const hostKeyLine = readFileSync(`${hostSshd.hostKey}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
  await ok('cat >> /root/.ssh/known_hosts', `[10.0.2.2]:${hostSshd.port} ${hostKeyLine}\n`);

  const backup = `rescue-backup --port ${hostSshd.port} --identity '/root/.ssh/backup key' /mnt/home/alice root@10.0.2.2:${destination}/`;
  const out = await ok(backup);
  assert.match(out, /rescue-backup: done/);
  const guestSums = await ok(checksumsCommand('/mnt/home/alice'));
  assert.equal(guestSums.trim().split('\n').length, 6, guestSums);
  const hostSums = execFileSync('bash', ['-c', checksumsCommand(join(destination, 'alice'))], { encoding: 'utf8' });
  assert.equal(hostSums, guestSums, 'every file arrived with the same content');
  const statCommand = (dir: string): string => `cd '${dir}' && find . -print0 | sort -z | xargs -0 stat -c '%n %u:%g %a %h %F'`;
  const hostStat = execFileSync('bash', ['-c', statCommand(join(destination, 'alice'))], { encoding: 'utf8' });
  assert.equal(hostStat, await ok(statCommand('/mnt/home/alice')), 'owners, modes, link counts and types kept');
  assert.match(hostStat, /^\.\/private\.txt 1000:1000 600 1 regular file$/m);
  assert.match(hostStat, /^\.\/blob\.bin 1000:1000 644 2 regular file$/m);
  assert.match(hostStat, /^\.\/readme-link 1000:1000 777 1 symbolic link$/m);

  // Run again: nothing left to copy, same result (resumable, idempotent).
  assert.match(await ok(backup), /done/);
  assert.equal(execFileSync('bash', ['-c', checksumsCommand(join(destination, 'alice'))], { encoding: 'utf8' }), guestSums);
  // Bad input is refused before anything runs: not user@host:path, a port that is no number.
  const bad = await run('rescue-backup /mnt/home/alice /tmp/elsewhere');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /user@host:path/);
  const badPort = await run(`rescue-backup --port 22x /mnt/home/alice root@10.0.2.2:${destination}/`);
  assert.equal(badPort.code, 2);
  assert.match(badPort.stderr, /not a port number/);
  await ok('rescue-umount');
  await hostSshd.stop();
  hostSshd = undefined;
});

/** A login shell on a real pseudo-terminal (`ssh -tt`), typed into like a person would. */
class Terminal {
  readonly #child: ChildProcessWithoutNullStreams;
  #output = '';
  #seen = 0;
  #exit: Promise<number>;

  constructor(sshLogin: SshLogin) {
    const { program, args, env } = sshInvocation(sshLogin, undefined, ['-tt']);
    this.#child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.#child.stdout.on('data', (c: Buffer) => (this.#output += c.toString()));
    this.#child.stderr.on('data', (c: Buffer) => (this.#output += c.toString()));
    this.#exit = new Promise((r) => this.#child.once('close', (code) => r(code ?? -1)));
  }

  /** Everything the terminal showed. */
  get transcript(): string {
    return this.#output;
  }

  /** Waits until output not yet consumed matches; consumes it up to the match's end. */
  async expect(pattern: RegExp, timeoutMs = 120_000): Promise<RegExpExecArray> {
    try {
      return await waitFor(`${pattern} on the terminal`, () => {
        const match = pattern.exec(this.#output.slice(this.#seen));
        if (!match) return undefined;
        this.#seen += match.index + match[0].length;
        return match;
      }, timeoutMs, 100);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- terminal since the last match:\n${this.#output.slice(this.#seen)}`);
    }
  }

  /** Types a line (Enter is a carriage return on a terminal). */
  type(line: string): void {
    this.#child.stdin.write(`${line}\r`);
  }

  /** Waits for the session to end. */
  exited(): Promise<number> {
    return this.#exit;
  }
}

test('interactive: rescue-passwd for root and alice, then rescue-chroot, typed into a terminal; no password in argv or logs', async () => {
  await ok('rescue-mount --root /dev/vda1');
  // Every program started from now on is recorded with its arguments (a kprobe on execve), so that
  // a password on any command line would be seen. A canary proves the recording works.
  await ok([
    'mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing',
    'cd /sys/kernel/tracing',
    `echo 'p:lbexec __x64_sys_execve ${Array.from({ length: 12 }, (_, i) => `a${i}=+0(+u${8 * i}(+104($arg1))):ustring`).join(' ')}' >> kprobe_events`,
    'echo > trace',
    'echo 1 > events/kprobes/lbexec/enable',
  ].join(' && '));
  await ok('/bin/echo argv-canary-7 > /dev/null');

  const rootPassword = 'Root-Typed-pass-91';
  const alicePassword = 'alice typed Pass 5';
  const term = new Terminal(login);
  await term.expect(/Helpers:/);
  term.type("PS1='R$((6*7))> '");
  await term.expect(/R42> /);

  term.type('rescue-passwd');
  await term.expect(/New password for root: /);
  term.type(rootPassword);
  await term.expect(/Retype it: /);
  term.type(rootPassword);
  await term.expect(/rescue-passwd: password of root changed in the installed system/);
  await term.expect(/R42> /);

  term.type('rescue-passwd alice');
  await term.expect(/New password for alice: /);
  term.type(alicePassword);
  await term.expect(/Retype it: /);
  term.type(`${alicePassword}x`);
  await term.expect(/the passwords do not match; nothing changed/);
  await term.expect(/R42> /);
  term.type('rescue-passwd alice');
  await term.expect(/New password for alice: /);
  term.type(alicePassword);
  await term.expect(/Retype it: /);
  term.type(alicePassword);
  await term.expect(/password of alice changed in the installed system/);
  await term.expect(/R42> /);

  term.type('rescue-chroot');
  await term.expect(/Entering the installed system \(\/mnt\)/);
  // Inside: the installed system's files, with /dev and /proc usable.
  term.type('. /etc/os-release; echo "inside:$ID:$(cat /etc/layout):$((6*7))"');
  await term.expect(/inside:lab:plain:42/);
  term.type('test -c /dev/null && test -r /proc/self/status && echo "binds-$((6*7))"');
  await term.expect(/binds-42/);
  term.type('exit');
  await term.expect(/R42> /);
  // Back in the rescue system's shell.
  term.type('. /etc/os-release; echo "outside:$ID:$(cat /etc/lifeboat/server-name):$((6*7))"');
  await term.expect(/outside:debian:app-1:42/);
  term.type('exit');
  assert.equal(await term.exited(), 0);

  const shadow = await ok('grep -E "^(root|alice):" /mnt/etc/shadow | cut -d: -f1,2');
  for (const [user, password] of [['root', rootPassword], ['alice', alicePassword]] as const) {
    const hash = new RegExp(`^${user}:(\\S+)$`, 'm').exec(shadow)?.[1] ?? '';
    assert.match(hash, /^\$6\$/, `${user} has a SHA-512 hash`);
    const salt = hash.split('$')[2] ?? '';
    assert.equal(execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: `${password}\n`, encoding: 'utf8' }).trim(), hash, `${user}'s hash verifies the typed password`);
  }

  const trace = await ok('cd /sys/kernel/tracing && echo 0 > events/kprobes/lbexec/enable && cat trace && echo "-:lbexec" >> kprobe_events');
  assert.match(trace, /argv-canary-7/, 'the execve recording sees arguments');
  assert.match(trace, /a0="chpasswd" a1="-c" a2="SHA512" a3="-R" a4="\/mnt"/, 'chpasswd ran, recorded');
  for (const password of [rootPassword, alicePassword]) {
    assert.equal(trace.includes(password), false, 'no password on any command line');
    assert.equal(term.transcript.includes(password), false, 'the typed password is not echoed');
    assert.equal(harness.machine.vm?.serial().includes(password), false, 'nor on the serial console');
  }
  // Nor in any log or history of the rescue system (the passwords go to grep on stdin, not argv).
  const found = await run('grep -rlF -f - /var/log /root /run/lifeboat /etc /tmp', `${rootPassword}\n${alicePassword}\n`);
  assert.equal(found.code, 1, `no file holds a password: ${found.stdout}`);

  // rescue-chroot's binds stay until rescue-umount, which removes them with the rest.
  const binds = (await ok("awk '$2 ~ \"^/mnt\" { print $2 }' /proc/mounts")).trim().split('\n');
  for (const bind of ['/mnt', '/mnt/dev', '/mnt/dev/pts', '/mnt/proc', '/mnt/sys', '/mnt/run']) assert.ok(binds.includes(bind), `${bind} in ${binds.join(' ')}`);
  const umount = await ok('rescue-umount');
  assert.match(umount, /unmounted \/mnt\/dev\/pts/);
  assert.equal((await ok("awk '$2 ~ \"^/mnt\"' /proc/mounts")).trim(), '');
});
