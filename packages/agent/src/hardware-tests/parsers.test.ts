/**
 * The runners' parsers on real output: badblocks and e2fsck captured from e2fsprogs 1.47 (Debian 12,
 * the rescue image's release), memtester 4.6 and stress-ng 0.15.06 captured on Debian 12 (the files
 * beside this test); smartctl's JSON (smartmontools 7.3) as its documentation prints it.
 */
const sample = (name: string): string => readFileSync(new URL(name, import.meta.url), 'utf8');
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseStressNg } from './cpu.js';
import { checkerFor, interpretFsck } from './fsck.js';
import { MemtesterFollower, memAvailable, memoryMarginBytes, memoryToTest, parseMemtester } from './memory.js';
import { parseBlkidExport, parseLsblkTree, parseLvs, parseMdstat, withBlkid } from './partitions.js';
import { parseBadblocks } from './readtest.js';
import { applyBackspaces } from './runner.js';
import { parseDisks, parseSelfTestState, parseSmartReport } from './smart.js';

const B = '\b';

describe('badblocks', () => {
  it('reads progress while it runs and the result when done (e2fsprogs 1.47)', () => {
    const running = `Checking blocks 0 to 8191\nChecking for bad blocks (read-only test):   0.00% done, 0:00 elapsed. (0/0/0 errors)${B.repeat(42)} 37.51% done, 0:02 elapsed. (0/0/0 errors)`;
    assert.equal(parseBadblocks(running).percent, 37.51);
    assert.equal(parseBadblocks(running).completed, false);
    const done = `Checking blocks 0 to 8191\nChecking for bad blocks (read-only test):   0.00% done, 0:00 elapsed. (0/0/0 errors)${B.repeat(42)}done                                                 \nPass completed, 0 bad blocks found. (0/0/0 errors)\n`;
    const report = parseBadblocks(done);
    assert.equal(report.completed, true);
    assert.equal(report.badBlocks, 0);
    assert.deepEqual(report.errors, { read: 0, write: 0, corruption: 0 });
    assert.equal(parseBadblocks('Pass completed, 3 bad blocks found. (3/0/0 errors)\n').badBlocks, 3);
  });
});

describe('e2fsck and the other checkers', () => {
  it('picks the read-only checker by type and refuses btrfs repair', () => {
    assert.deepEqual(checkerFor('ext4', '/dev/sda1', false)?.args, ['-f', '-n', '/dev/sda1']);
    assert.deepEqual(checkerFor('ext4', '/dev/sda1', true)?.args, ['-f', '-y', '/dev/sda1']);
    assert.deepEqual(checkerFor('xfs', '/dev/sdb', false)?.args, ['-n', '/dev/sdb']);
    assert.deepEqual(checkerFor('vfat', '/dev/sda15', true)?.args, ['-a', '/dev/sda15']);
    assert.deepEqual(checkerFor('btrfs', '/dev/sdc', false)?.args, ['check', '--readonly', '/dev/sdc']);
    assert.throws(() => checkerFor('btrfs', '/dev/sdc', true), { code: 'BAD_REQUEST' });
    assert.equal(checkerFor('ntfs', '/dev/sdd1', false), null);
  });
  it('reads exit statuses: clean, errors found (12 from a lost root inode, captured), fixed', () => {
    assert.equal(interpretFsck('e2fsck', 0, false).status, 'passed');
    assert.match(interpretFsck('e2fsck', 12, false).verdict, /errors found.*stopped early/);
    assert.equal(interpretFsck('e2fsck', 12, false).status, 'failed');
    assert.equal(interpretFsck('e2fsck', 4, false).status, 'failed');
    assert.deepEqual(interpretFsck('e2fsck', 1, true), { status: 'failed', verdict: 'errors found and fixed' });
    assert.equal(interpretFsck('e2fsck', 8, false).status, 'error');
    assert.equal(interpretFsck('xfs_repair', 1, false).status, 'failed');
    assert.equal(interpretFsck('xfs_repair', 2, false).status, 'error');
    assert.equal(interpretFsck('fsck.vfat', 0, false).status, 'passed');
    assert.equal(interpretFsck('btrfs', 1, false).status, 'failed');
  });
});

describe('smartctl --json', () => {
  const ata = JSON.stringify({
    json_format_version: [1, 0],
    smartctl: { version: [7, 3], exit_status: 0 },
    device: { name: '/dev/sda', info_name: '/dev/sda [SAT]', type: 'sat', protocol: 'ATA' },
    model_name: 'QEMU HARDDISK',
    serial_number: 'QM00001',
    smart_support: { available: true, enabled: true },
    smart_status: { passed: true },
    ata_smart_attributes: {
      revision: 1,
      table: [
        { id: 1, name: 'Raw_Read_Error_Rate', value: 100, worst: 100, thresh: 6, when_failed: '', flags: { value: 47 }, raw: { value: 0, string: '0' } },
        { id: 5, name: 'Reallocated_Sector_Ct', value: 100, worst: 100, thresh: 36, when_failed: '', flags: { value: 51 }, raw: { value: 0, string: '0' } },
        { id: 194, name: 'Temperature_Celsius', value: 100, worst: 100, thresh: 0, when_failed: '', flags: { value: 34 }, raw: { value: 32, string: '32' } },
      ],
    },
    power_on_time: { hours: 12 },
    temperature: { current: 32 },
  });
  it('reads identity, health and attributes of an ATA disk', () => {
    const r = parseSmartReport(ata);
    assert.equal(r.available, true);
    assert.equal(r.healthPassed, true);
    assert.equal(r.model, 'QEMU HARDDISK');
    assert.equal(r.serial, 'QM00001');
    assert.equal(r.temperatureC, 32);
    assert.equal(r.attributes.length, 3);
    assert.deepEqual(r.attributes[1], { id: 5, name: 'Reallocated_Sector_Ct', value: 100, worst: 100, threshold: 36, raw: '0', failed: null });
  });
  it('reads a failing NVMe disk and a disk without SMART', () => {
    const nvme = parseSmartReport(JSON.stringify({ smart_status: { passed: false }, model_name: 'QEMU NVMe Ctrl', nvme_smart_health_information_log: { critical_warning: 4, media_errors: 7, temperature: 45 } }));
    assert.equal(nvme.available, true);
    assert.equal(nvme.healthPassed, false);
    assert.equal(nvme.attributes.find((a) => a.name === 'media_errors')?.raw, '7');
    const none = parseSmartReport(JSON.stringify({ smartctl: { exit_status: 4, messages: [{ string: 'Unable to detect device type', severity: 'error' }] } }));
    assert.equal(none.available, false);
    assert.deepEqual(none.messages, ['Unable to detect device type']);
  });
  it('follows an ATA self-test: running with percent remaining, then its logged result', () => {
    const running = parseSelfTestState(
      JSON.stringify({
        ata_smart_data: { self_test: { status: { value: 249, string: 'in progress, 90% remaining', remaining_percent: 90 }, polling_minutes: { short: 2, extended: 54 } }, capabilities: { self_tests_supported: true } },
        ata_smart_self_test_log: { standard: { revision: 1, table: [], count: 0 } },
      }),
    );
    assert.equal(running.supported, true);
    assert.equal(running.running, true);
    assert.equal(running.remainingPercent, 90);
    const done = parseSelfTestState(
      JSON.stringify({
        ata_smart_data: { self_test: { status: { value: 0, string: 'completed without error', passed: true } }, capabilities: { self_tests_supported: true } },
        ata_smart_self_test_log: { standard: { revision: 1, table: [{ type: { value: 1, string: 'Short offline' }, status: { value: 0, string: 'Completed without error', passed: true }, lifetime_hours: 12 }], count: 1 } },
      }),
    );
    assert.equal(done.running, false);
    assert.equal(done.logCount, 1);
    assert.deepEqual(done.lastResult, { type: 'Short offline', status: 'Completed without error', passed: true, hours: 12 });
    const unsupported = parseSelfTestState(JSON.stringify({ ata_smart_data: { capabilities: { self_tests_supported: false } } }));
    assert.equal(unsupported.supported, false);
    assert.equal(parseSelfTestState('{}').supported, false);
  });
  it('follows an NVMe self-test', () => {
    const s = parseSelfTestState(JSON.stringify({ nvme_self_test_log: { current_self_test_operation: { value: 1, string: 'Short self-test in progress' }, current_self_test_completion_percent: 30, table: [] } }));
    assert.equal(s.running, true);
    assert.equal(s.remainingPercent, 70);
  });
});

describe('lsblk', () => {
  it('lists disks (not zram/loop) from lsblk --json --nodeps (util-linux 2.38, captured)', () => {
    const text = '{"blockdevices":[{"name":"zram0","type":"disk","size":0,"model":null,"serial":null,"tran":null,"rota":false},{"name":"vda","type":"disk","size":274877906944,"model":null,"serial":null,"tran":null,"rota":true},{"name":"sda","type":"disk","size":1073741824,"model":"QEMU HARDDISK   ","serial":"QM00001","tran":"sata","rota":true}]}';
    assert.deepEqual(parseDisks(text), [
      { name: 'vda', model: null, serial: null, sizeBytes: 274877906944, transport: null, rotational: true },
      { name: 'sda', model: 'QEMU HARDDISK', serial: 'QM00001', sizeBytes: 1073741824, transport: 'sata', rotational: true },
    ]);
  });
  it('reads the tree with file systems and mount points', () => {
    const text = JSON.stringify({ blockdevices: [{ name: 'sda', type: 'disk', size: 100, fstype: null, pttype: 'gpt', mountpoints: [null], children: [{ name: 'sda1', type: 'part', size: 90, fstype: 'ext4', label: 'root', uuid: 'u1', mountpoints: ['/mnt'] }] }, { name: 'loop0', type: 'loop', size: 1 }] });
    const [sda] = parseLsblkTree(text);
    assert.equal(sda?.pttype, 'gpt');
    assert.deepEqual(sda?.mountpoints, []);
    assert.deepEqual(sda?.children[0]?.mountpoints, ['/mnt']);
    assert.equal(sda?.children[0]?.fstype, 'ext4');
    assert.equal(parseLsblkTree(text).length, 1);
  });
});

describe('blkid', () => {
  it('fills the file systems lsblk does not know without udev (util-linux 2.38 export format)', () => {
    const probed = parseBlkidExport('DEVNAME=/dev/sdb\nUUID=0b6e5f5e-1111-4222-8333-944445555666\nBLOCK_SIZE=4096\nTYPE=ext4\n\nDEVNAME=/dev/sda1\nLABEL=EFI\nUUID=ABCD-1234\nTYPE=vfat\n');
    assert.equal(probed.get('/dev/sdb')?.TYPE, 'ext4');
    const [sdb] = withBlkid(parseLsblkTree('{"blockdevices":[{"name":"sdb","type":"disk","size":4294967296,"fstype":null,"label":null,"uuid":null,"pttype":null,"mountpoints":[null]}]}'), probed);
    assert.deepEqual([sdb?.fstype, sdb?.uuid], ['ext4', '0b6e5f5e-1111-4222-8333-944445555666']);
  });
});

describe('md and LVM', () => {
  it('reads healthy and degraded arrays with their recovery', () => {
    const mdstat = `Personalities : [raid1] [raid0]
md1 : active raid1 sdb2[1] sda2[0]
      1046528 blocks super 1.2 [2/2] [UU]

md0 : active raid1 sdb1[2] sda1[0]
      523264 blocks super 1.2 [2/1] [U_]
      [=>...................]  recovery =  8.5% (44800/523264) finish=0.3min speed=22400K/sec

md2 : inactive sdc1[0](S)
      523264 blocks super 1.2

unused devices: <none>
`;
    const arrays = parseMdstat(mdstat);
    assert.equal(arrays.length, 3);
    assert.deepEqual(arrays[0], { name: 'md1', active: true, level: 'raid1', members: ['sdb2', 'sda2'], wanted: 2, working: 2, map: 'UU', degraded: false, activity: null });
    assert.equal(arrays[1]?.degraded, true);
    assert.match(arrays[1]?.activity ?? '', /^recovery = {2}8\.5%/);
    assert.equal(arrays[2]?.active, false);
    assert.deepEqual(arrays[2]?.members, ['sdc1']);
  });
  it('reads lvs --reportformat json', () => {
    const text = '{"report":[{"lv":[{"vg_name":"vg0","lv_name":"root","lv_attr":"-wi-a-----","lv_size":"<3.00g"}]}]}';
    assert.deepEqual(parseLvs(text), [{ vg: 'vg0', lv: 'root', attr: '-wi-a-----', size: '<3.00g' }]);
    assert.deepEqual(parseLvs('  No volume groups found'), []);
  });
});

describe('stress-ng', () => {
  it('reads a real 3 s run (captured)', () => {
    const m = parseStressNg(sample('stress-ng-0.15-3s.txt'));
    assert.deepEqual(m, { bogoOps: 1276, realSeconds: 3.15, bogoOpsPerSecond: 405.12, instances: 2, failures: [], completed: true });
  });
  it('reads bogo ops and instances (0.15 metrc lines)', () => {
    const text = `stress-ng: info:  [812] setting to a 60 secs run per stressor
stress-ng: info:  [812] dispatching hogs: 2 cpu
stress-ng: metrc: [812] stressor       bogo ops real time  usr time  sys time   bogo ops/s     bogo ops/s
stress-ng: metrc: [812]                           (secs)    (secs)    (secs)   (real time) (usr+sys time)
stress-ng: metrc: [812] cpu               24680     60.01    119.52      0.04       411.26        206.42
stress-ng: info:  [812] successful run completed in 60.03 secs
`;
    const m = parseStressNg(text);
    assert.deepEqual(m, { bogoOps: 24680, realSeconds: 60.01, bogoOpsPerSecond: 411.26, instances: 2, failures: [], completed: true });
  });
  it('lists verification failures', () => {
    const m = parseStressNg('stress-ng: info:  [9] dispatching hogs: 1 cpu\nstress-ng: fail:  [10] cpu: sqrt error detected on sqrt(12345)\nstress-ng: info:  [9] unsuccessful run completed in 5.00s\n');
    assert.equal(m.failures.length, 1);
    assert.equal(m.completed, false);
  });
});

describe('memtester progress', () => {
  const head = 'memtester version 4.5.1 (64-bit)\nCopyright (C) 2001-2020 Charles Cazabon.\nLicensed under the GNU General Public License version 2 (only).\n\npagesize is 4096\npagesizemask is 0xfffffffffffff000\nwant 64MB (67108864 bytes)\ngot  64MB (67108864 bytes), trying mlock ...locked.\nLoop 1/1:\n';
  it('starts at 0 and moves inside a long sub-test (no "frozen at 64 %")', () => {
    assert.equal(parseMemtester(head).percent, 0);
    const early = parseMemtester(`${head}  Stuck Address       : testing   3${B.repeat(11)}`);
    assert.equal(early.test, 'Stuck Address');
    assert.ok(early.percent > 0);
    const bitFlip1 = parseMemtester(`${head}  Stuck Address       : ok         \n  Random Value        : ok\n  Compare XOR         : ok\n  Compare SUB         : ok\n  Compare MUL         : ok\n  Compare DIV         : ok\n  Compare OR          : ok\n  Compare AND         : ok\n  Sequential Increment: ok\n  Solid Bits          : ok\n  Block Sequential    : ok\n  Checkerboard        : ok\n  Bit Spread          : ok\n  Bit Flip            : setting  10${B.repeat(11)}testing  10${B.repeat(11)}`);
    const bitFlip2 = parseMemtester(`${head}  Stuck Address       : ok         \n  Random Value        : ok\n  Compare XOR         : ok\n  Compare SUB         : ok\n  Compare MUL         : ok\n  Compare DIV         : ok\n  Compare OR          : ok\n  Compare AND         : ok\n  Sequential Increment: ok\n  Solid Bits          : ok\n  Block Sequential    : ok\n  Checkerboard        : ok\n  Bit Spread          : ok\n  Bit Flip            : setting  10${B.repeat(11)}testing  10${B.repeat(11)}setting 300${B.repeat(11)}`);
    assert.equal(bitFlip1.test, 'Bit Flip');
    assert.ok(bitFlip2.percent > bitFlip1.percent, `${bitFlip2.percent} > ${bitFlip1.percent}`);
    assert.equal(bitFlip1.passed, 13);
  });
  it('only goes up over a whole run, and ends at 100 with every sub-test ok', () => {
    const names = ['Stuck Address', 'Random Value', 'Compare XOR', 'Compare SUB', 'Compare MUL', 'Compare DIV', 'Compare OR', 'Compare AND', 'Sequential Increment', 'Solid Bits', 'Block Sequential', 'Checkerboard', 'Bit Spread', 'Bit Flip', 'Walking Ones', 'Walking Zeroes', '8-bit Writes', '16-bit Writes'];
    const counters: Record<string, number> = { 'Stuck Address': 16, 'Solid Bits': 64, 'Block Sequential': 256, Checkerboard: 64, 'Bit Spread': 128, 'Bit Flip': 512, 'Walking Ones': 128, 'Walking Zeroes': 128 };
    let text = head;
    let last = -1;
    for (const name of names) {
      text += `  ${name.padEnd(20)}: `;
      for (let i = 0; i < (counters[name] ?? 0); i += 7) {
        text += `setting ${String(i).padStart(3)}${B.repeat(11)}testing ${String(i).padStart(3)}${B.repeat(11)}`;
        const p = parseMemtester(text).percent;
        assert.ok(p >= last, `${name} ${i}: ${p} >= ${last}`);
        last = p;
      }
      text += 'ok\n';
      const p = parseMemtester(text).percent;
      assert.ok(p >= last);
      last = p;
    }
    const end = parseMemtester(`${text}\nDone.\n`);
    assert.equal(Math.round(end.percent), 100);
    assert.equal(end.passed, 18);
    assert.deepEqual(end.failures, []);
  });
  it('follows a real run byte by byte (memtester 4.6 over 4 MiB, captured): only up, ends at 100', () => {
    const text = sample('memtester-4.6-4M.txt');
    let last = 0;
    let moves = 0;
    for (let end = 0; end <= text.length; end += 97) {
      const p = parseMemtester(text.slice(0, end)).percent;
      assert.ok(p >= last, `at ${end}: ${p} >= ${last}`);
      if (p > last) moves++;
      last = p;
    }
    const whole = parseMemtester(text);
    assert.equal(Math.round(whole.percent), 100);
    assert.equal(whole.passed, 18);
    assert.ok(moves > 100, `progress moved ${moves} times`);
  });
  it('followed piece by piece as the agent reads it, says what the whole output so far says', () => {
    const text = sample('memtester-4.6-4M.txt');
    const follower = new MemtesterFollower();
    // Pieces of every size, cut anywhere (inside a counter, a backspace run, a line end).
    let at = 0;
    for (let i = 0; at < text.length; i++) {
      const next = Math.min(text.length, at + 1 + ((i * 7919) % 211));
      assert.deepEqual(follower.feed(text.slice(at, next)), parseMemtester(text.slice(0, next)), `at ${next}`);
      at = next;
    }
    assert.equal(follower.feed('').passed, 18);
  });
  it('lists failures', () => {
    const r = parseMemtester(`${head}  Stuck Address       : ok\n  Random Value        : FAILURE: 0x1234 != 0x1235 at offset 0x00001000.\n`);
    assert.equal(r.failures.length, 1);
    assert.match(r.failures[0] ?? '', /Random Value: FAILURE/);
  });
  it('tests what the rescue can spare: MemAvailable minus the margin, at most what was asked', () => {
    assert.equal(memAvailable('MemTotal:        2000000 kB\nMemFree:  1 kB\nMemAvailable:    1048576 kB\n'), 1024 ** 3);
    assert.equal(memoryToTest(null, 1024 ** 3), 1024 ** 3 - memoryMarginBytes);
    assert.equal(memoryToTest(256 * 1024 ** 2, 1024 ** 3), 256 * 1024 ** 2);
    assert.equal(memoryToTest(4 * 1024 ** 3, 1024 ** 3), 1024 ** 3 - memoryMarginBytes);
    assert.equal(memoryToTest(null, 64 * 1024 ** 2), 0);
  });
});

describe('terminal output', () => {
  it('applies backspaces', () => {
    assert.equal(applyBackspaces(`abc${B}${B}d`), 'ad');
  });
});
