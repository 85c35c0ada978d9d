/**
 * The lab's disks as hardware tests see them in the rescue system: the plain layout's system disk on
 * SATA (AHCI) and the empty data disk on NVMe, both answering SMART (`smartctl --json -a`), the data
 * disk's partition a non-system target for a read test and an fsck.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureDataDisk, ensureLayoutDisks } from '@lifeboat/lab';
import type { DataDisk, LayoutDisks } from '@lifeboat/lab';
import { sshCommands, startRescueHarness } from './rescue-harness.js';
import type { RescueHarness } from './rescue-harness.js';
import type { SshLogin } from '@lifeboat/test-support';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-smart-disks-vm-'));
const log = (line: string): void => void process.stdout.write(`# ${line}\n`);

let plain: LayoutDisks;
let data: DataDisk;
let harness: RescueHarness;
let login: SshLogin;
const { ok, run } = sshCommands(() => login, log);

interface SmartJson {
  device?: { protocol?: string };
  model_name?: string;
  serial_number?: string;
  smart_status?: { passed?: boolean };
  ata_smart_attributes?: { table?: unknown[] };
  nvme_smart_health_information_log?: { critical_warning?: number; temperature?: number };
}

before(async () => {
  plain = await ensureLayoutDisks('plain', { onProgress: log });
  data = await ensureDataDisk({ onProgress: log });
  harness = await startRescueHarness({
    work,
    mac: '52:54:00:ab:cd:11',
    serverName: 'smart-1',
    disks: () => [],
    sataDisks: () => plain.disks,
    nvmeDisks: () => [data.image],
    log,
  });
  login = await harness.enterWithKey();
  // The image loads disk drivers in the background (by modalias); it marks when it is done.
  await ok('timeout 120 sh -c "until [ -e /run/lifeboat/drivers-loaded ]; do sleep 0.2; done"');
  log((await run('lsmod | grep -E "^(ahci|libahci|nvme|nvme_core) "; ls /sys/block')).stdout.replace(/\n/g, ' | '));
});

after(async () => {
  await harness?.close();
});

test('SMART answers on the SATA system disk: health passed and the ATA attribute table', async () => {
  assert.match(await ok('lsblk -dno NAME,TRAN /dev/sda'), /^sda\s+sata$/m);
  const smart = JSON.parse((await run('smartctl --json -a /dev/sda')).stdout) as SmartJson;
  assert.equal(smart.device?.protocol, 'ATA');
  assert.equal(smart.serial_number, 'LAB-SATA-0');
  assert.equal(smart.smart_status?.passed, true);
  assert.ok((smart.ata_smart_attributes?.table ?? []).length > 0, 'attributes listed');
});

test('SMART answers on the NVMe data disk: the nvme driver is in the image and the health log reads', async () => {
  assert.match(await ok('lsblk -dno NAME,TRAN /dev/nvme0n1'), /^nvme0n1\s+nvme$/m);
  const smart = JSON.parse((await run('smartctl --json -a /dev/nvme0n1')).stdout) as SmartJson;
  log(`nvme0n1: ${smart.model_name} ${smart.serial_number}, temperature ${smart.nvme_smart_health_information_log?.temperature}`);
  assert.equal(smart.device?.protocol, 'NVMe');
  assert.equal(smart.serial_number, 'TEST-NVME-0');
  assert.equal(smart.smart_status?.passed, true);
  assert.equal(smart.nvme_smart_health_information_log?.critical_warning, 0);
});

test('the data disk holds one ext4 partition labelled data that reads whole and checks clean', async () => {
  // No udev in the rescue system: lsblk has no labels to show; blkid reads the superblock itself.
  const probe = await ok('blkid -o export /dev/nvme0n1p1');
  assert.match(probe, /^LABEL=data$/m);
  assert.match(probe, /^TYPE=ext4$/m);
  assert.match(probe, new RegExp(`^UUID=${data.uuid}$`, 'm'));
  assert.equal((await ok('blockdev --getsize64 /dev/nvme0n1')).trim(), String(data.sizeBytes));
  assert.equal((await ok('badblocks -b 4096 /dev/nvme0n1 2>/dev/null | wc -l')).trim(), '0', 'a read-only pass over the whole disk finds no bad block');
  const check = await run('e2fsck -n -f /dev/nvme0n1p1');
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /data: \d+\/\d+ files/);
});
