/**
 * rescue-winpass on the host, against the lab's Windows-like disk (`@lifeboat/lab`): its NTFS C:
 * volume is mounted with ntfs-3g (a copy of the cached image, on a loop device) where rescue-mount
 * would mount it, and the helper changes accounts of its SAM hive with chntpw. There is no real
 * Windows here: the SAM hive is the lab's, written with hivex tools; read-backs use hivexget and
 * chntpw -l. Needs root, ntfs-3g, chntpw, libhivex-bin.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { accountBits, builtinAliases, ensureWindowsDisk, labMachineSid, readBinaryValue as binaryValue, readUserF, sidBytes, readUserV, userKeyName, windowsPaths, type WindowsDisk } from '@lifeboat/lab';

const exec = promisify(execFile);
const helpers = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers');

/** Runs a helper with the target at `target`; resolves its exit code and output. */
function helper(target: string, name: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(helpers, name), args, {
      env: { ...process.env, RESCUE_LIB: join(helpers, 'rescue-common.sh'), RESCUE_TARGET: target },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

async function account(sam: string, rid: number): Promise<{ bits: number; failedLogins: number; ntHashBytes: number }> {
  const key = `SAM\\Domains\\Account\\Users\\${userKeyName(rid)}`;
  const f = readUserF(await binaryValue(sam, key, 'F'));
  return { bits: f.bits, failedLogins: f.failedLogins, ntHashBytes: readUserV(await binaryValue(sam, key, 'V')).ntHashBytes };
}

/** Mounts C: of a copy of `disk` at `target` with ntfs-3g; returns a function that undoes it. */
async function mountWindows(disk: WindowsDisk, work: string, target: string): Promise<() => Promise<void>> {
  const copy = join(work, `${disk.scenario}.raw`);
  await exec('cp', ['--sparse=always', disk.disk, copy]);
  const c = disk.partitions.find((p) => p.role === 'windows')!;
  const { stdout } = await exec('losetup', ['--find', '--show', '--offset', String(c.offsetBytes), '--sizelimit', String(c.sizeBytes), copy]);
  const device = stdout.trim();
  await mkdir(target, { recursive: true });
  await exec('ntfs-3g', ['-o', 'rw', device, target]);
  return async () => {
    await exec('umount', [target]).catch(() => undefined);
    await exec('losetup', ['-d', device]).catch(() => undefined);
  };
}

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'rescue-winpass-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('rescue-winpass on a clean Windows volume', () => {
  const target = () => join(work, 'mnt');
  let unmount: () => Promise<void> = async () => undefined;
  let sam: string;
  before(async () => {
    unmount = await mountWindows(await ensureWindowsDisk('clean'), work, target());
    sam = join(target(), windowsPaths.sam);
  });
  after(async () => unmount());

  test('--list shows the accounts with their state', async () => {
    const r = await helper(target(), 'rescue-winpass', ['--list']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\| 03e9 \| customer\s+\|\s+\| dis\/lock \|/);
    assert.match(r.stdout, /\| 03ea \| operator\s+\|\s+\|\s+\|/);
  });

  test('USER alone unlocks, enables and blanks the account; a copy of the SAM keeps the old state', async () => {
    assert.deepEqual(await account(sam, 1001), { bits: accountBits.normal | accountBits.lockedOut, failedLogins: 5, ntHashBytes: 20 });
    const r = await helper(target(), 'rescue-winpass', ['Customer']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /customer: account enabled and unlocked/);
    assert.match(r.stdout, /customer: password removed/);
    const now = await account(sam, 1001);
    assert.equal(now.bits & (accountBits.lockedOut | accountBits.disabled), 0);
    assert.equal(now.failedLogins, 0);
    assert.equal(now.ntHashBytes, 0);
    const { stdout } = await exec('chntpw', ['-l', sam]);
    assert.match(stdout, /\| 03e9 \| customer\s+\|\s+\| \*BLANK\*\s+\|/);
    const copies = (await readdir(dirname(sam))).filter((f) => f.startsWith('SAM.lifeboat-'));
    assert.equal(copies.length, 1);
    assert.deepEqual(await account(join(dirname(sam), copies[0]!), 1001), { bits: accountBits.normal | accountBits.lockedOut, failedLogins: 5, ntHashBytes: 20 });
  });

  test('--unlock by RID enables the disabled Administrator and leaves its password; each run keeps its own copy', async () => {
    const r = await helper(target(), 'rescue-winpass', ['0x1f4', '--unlock']);
    assert.equal(r.code, 0, r.stderr);
    const now = await account(sam, 500);
    assert.equal(now.bits & accountBits.disabled, 0);
    assert.equal(now.ntHashBytes, 20);
    assert.equal((await readdir(dirname(sam))).filter((f) => f.startsWith('SAM.lifeboat-')).length, 2);
  });

  test('--blank only blanks: the account stays as it was otherwise', async () => {
    const r = await helper(target(), 'rescue-winpass', ['operator', '--blank']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await account(sam, 1002), { bits: accountBits.normal, failedLogins: 0, ntHashBytes: 0 });
  });

  test('an unknown account, or no user, is refused without touching the SAM', async () => {
    const unknown = await helper(target(), 'rescue-winpass', ['nobody']);
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /no account nobody/);
    const none = await helper(target(), 'rescue-winpass', []);
    assert.equal(none.code, 2, none.stderr);
    // One copy per earlier change (three), none for these.
    assert.equal((await readdir(dirname(sam))).filter((f) => f.startsWith('SAM.lifeboat-')).length, 3);
  });

  test('--promote makes the account an administrator: chntpw -l says ADMIN, the Administrators alias lists its SID', async () => {
    const r = await helper(target(), 'rescue-winpass', ['operator', '--promote']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /operator: member of Administrators/);
    const { stdout } = await exec('chntpw', ['-l', sam]);
    assert.match(stdout, /\| 03ea \| operator\s+\| ADMIN\s+\|/);
    const c = await binaryValue(sam, `SAM\\Domains\\Builtin\\Aliases\\${userKeyName(builtinAliases.administrators)}`, 'C');
    assert.equal(c.readUInt32LE(0x30), 2, 'Administrator and operator');
    const members = c.subarray(0x34 + c.readUInt32LE(0x28), 0x34 + c.readUInt32LE(0x28) + c.readUInt32LE(0x2c));
    assert.ok(members.includes(sidBytes([...labMachineSid, 1002])), "operator's SID is a member");
  });
});

describe('rescue-winpass on a hibernated Windows volume', () => {
  test('refuses: ntfs-3g mounted it read-only, and the helper says why', async () => {
    const target = join(work, 'hib');
    const unmount = await mountWindows(await ensureWindowsDisk('hibernated'), work, target);
    try {
      const r = await helper(target, 'rescue-winpass', ['customer']);
      assert.equal(r.code, 4);
      assert.match(r.stderr, /read-only/);
      assert.deepEqual(await account(join(target, windowsPaths.sam), 1001), { bits: accountBits.normal | accountBits.lockedOut, failedLogins: 5, ntHashBytes: 20 });
    } finally {
      await unmount();
    }
  });
});
