// The lab's registry hives, written with hivexsh and read back by the tools a rescue uses
// (hivexget, chntpw). Needs libhivex-bin and chntpw (scripts/debian-packages.txt).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { emptyHive, hivexshScript, readBinaryValue as binaryValue, writeHive } from './registry-hive.js';
import {
  accountBits,
  bcdHiveKeys,
  bootManagerObject,
  labWindowsUsers,
  readUserF,
  readUserV,
  samHiveKeys,
  systemHiveKeys,
  userKeyName,
} from './windows-hives.js';

const exec = promisify(execFile);
let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'lab-hives-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

test('an empty hive has a valid header checksum and opens in hivexsh', async () => {
  const hive = emptyHive('SYSTEM');
  assert.equal(hive.length, 8192);
  let x = 0;
  for (let i = 0; i < 0x1fc; i += 4) x ^= hive.readUInt32LE(i);
  assert.equal(x >>> 0, hive.readUInt32LE(0x1fc));
  const path = join(work, 'empty');
  await writeHive(path, 'empty', [{ path: ['Probe'], values: [{ name: 'N', type: 4, data: Buffer.from([7, 0, 0, 0]) }] }]);
  const { stdout } = await exec('hivexget', [path, 'Probe', 'N']);
  assert.equal(stdout.trim(), '7');
});

test('hivexsh script creates each key once and refuses a name with a backslash', () => {
  const script = hivexshScript([{ path: ['A', 'B'] }, { path: ['A', 'C'] }]);
  assert.equal(script.match(/^add A$/gm)?.length, 1);
  assert.throws(() => hivexshScript([{ path: ['A\\B'] }]), /invalid registry key name/);
});

test('the SAM hive lists its users in chntpw with their locks, and F/V read back', async () => {
  const sam = join(work, 'SAM');
  await writeHive(sam, 'SAM', samHiveKeys(labWindowsUsers));
  const { stdout, stderr } = await exec('chntpw', ['-l', sam]);
  assert.doesNotMatch(stderr, /Machine SID not found/);
  const row = (name: string): string => stdout.split('\n').find((l) => l.includes(` ${name} `)) ?? '';
  assert.match(row('Administrator'), /^\| 01f4 \| Administrator\s+\| ADMIN\s+\| dis\/lock/);
  assert.match(row('customer'), /^\| 03e9 \|.*dis\/lock/);
  assert.match(row('operator'), /^\| 03ea \|\s+operator\s+\|\s+\|\s+\|$/);
  assert.match(row('Guest'), /\*BLANK\*|dis\/lock/);
  const key = `SAM\\Domains\\Account\\Users\\${userKeyName(1001)}`;
  const f = readUserF(await binaryValue(sam, key, 'F'));
  assert.deepEqual(f, { rid: 1001, bits: accountBits.normal | accountBits.lockedOut, failedLogins: 5 });
  assert.deepEqual(readUserV(await binaryValue(sam, key, 'V')), { name: 'customer', ntHashBytes: 20 });
});

test('SYSTEM and BCD hives hold the keys a rescue reads', async () => {
  const system = join(work, 'SYSTEM');
  await writeHive(system, 'SYSTEM', systemHiveKeys());
  const { stdout: start } = await exec('hivexget', [system, 'ControlSet001\\Services\\netkvm', 'Start']);
  assert.equal(start.trim(), '4');
  const { stdout: name } = await exec('hivexget', [system, 'ControlSet001\\Control\\ComputerName\\ComputerName', 'ComputerName']);
  assert.equal(name.trim(), 'LAB-WIN');
  const bcd = join(work, 'BCD');
  await writeHive(bcd, 'BCD', bcdHiveKeys());
  const { stdout: manager } = await exec('hivexget', [bcd, `Objects\\${bootManagerObject}\\Elements\\12000004`, 'Element']);
  assert.equal(manager.trim(), 'Windows Boot Manager');
  assert.equal((await readFile(bcd)).subarray(0, 4).toString('latin1'), 'regf');
});
