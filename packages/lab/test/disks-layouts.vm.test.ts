// Boots every other layout and scenario once (TCG, one VM at a time) to prove that each layout
// boots with its own storage stack and that each scenario reproduces its fault.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createServerDisks, type LayoutName, type ScenarioName } from '../src/disks/index.js';
import { bootDisks, serialText, sshBanner, sshRun, waitFor, type BootedVm } from './disks-boot.js';

const bootTimeoutMs = 420_000;
let work: string;
let vm: BootedVm | undefined;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'lab-disks-layouts-vm-'));
});
after(async () => {
  await vm?.stop();
  await rm(work, { recursive: true, force: true });
});

/** Boots a fresh overlay of `layout` + `scenarios` and hands the VM to `check`; always stops it. */
async function withServer(
  layout: LayoutName,
  scenarios: ScenarioName[],
  check: (vm: BootedVm, keyFile: string) => Promise<void>,
): Promise<void> {
  const dir = join(work, [layout, ...scenarios].join('+'));
  const server = await createServerDisks({ layout, scenarios, dir }, { onProgress: (line) => console.log(`# ${line}`) });
  vm = await bootDisks(server.disks, dir);
  try {
    await check(vm, server.base.login.keyFile);
  } finally {
    await vm.stop();
    vm = undefined;
  }
}

/** Logs in with the lab key and runs `command`, polling until the system answers. */
async function loginAndRun(vm: BootedVm, keyFile: string, command: string): Promise<string> {
  const result = await waitFor(async () => {
    const r = await sshRun(vm.sshPort, keyFile, command);
    return r.code === 0 ? r.stdout : undefined;
  }, bootTimeoutMs, vm);
  assert.ok(result !== undefined, `no SSH login; serial log tail:\n${(await serialText(vm)).slice(-2500)}`);
  console.log(`# power-on to SSH login ${((Date.now() - vm.startedAt) / 1000).toFixed(1)} s`);
  return result;
}

test('raid1: boots from RAID1 with both members active', { timeout: bootTimeoutMs + 60_000 }, async () => {
  await withServer('raid1', [], async (vm, key) => {
    const out = await loginAndRun(vm, key, 'findmnt -n -o SOURCE,FSTYPE /; findmnt -n -o SOURCE /boot; cat /proc/mdstat');
    assert.match(out, /^\/dev\/md\S* ext4$/m);
    assert.match(out, /raid1 vd[ab]2\[\d\] vd[ab]2\[\d\]/);
    assert.match(out, /\[UU\]/);
    assert.doesNotMatch(out, /\[U_\]|\[_U\]/);
  });
});

test('degraded-raid: the second member is blank and the system boots degraded', { timeout: bootTimeoutMs + 60_000 }, async () => {
  await withServer('raid1', ['degraded-raid'], async (vm, key) => {
    const out = await loginAndRun(vm, key, 'findmnt -n -o SOURCE /; cat /proc/mdstat; blkid /dev/vdb || echo vdb-blank');
    assert.match(out, /^\/dev\/md/m);
    assert.match(out, /\[U_\]|\[_U\]/);
    assert.match(out, /vdb-blank/);
  });
});

test('lvm: root is an LVM logical volume', { timeout: bootTimeoutMs + 60_000 }, async () => {
  await withServer('lvm', [], async (vm, key) => {
    const out = await loginAndRun(vm, key, 'findmnt -n -o SOURCE,FSTYPE /; lvs --noheadings -o vg_name,lv_name');
    assert.match(out, /^\/dev\/mapper\/lab-root ext4$/m);
    assert.match(out, /lab\s+root/);
  });
});

test('xfs: root is XFS, /boot ext4', { timeout: bootTimeoutMs + 60_000 }, async () => {
  await withServer('xfs', [], async (vm, key) => {
    const out = await loginAndRun(vm, key, 'findmnt -n -o FSTYPE /; findmnt -n -o FSTYPE /boot');
    assert.deepEqual(out.trim().split('\n'), ['xfs', 'ext4']);
  });
});

test('split-var: /var is its own file system', { timeout: bootTimeoutMs + 60_000 }, async () => {
  await withServer('split-var', [], async (vm, key) => {
    const out = await loginAndRun(vm, key, 'findmnt -n -o SOURCE,FSTYPE /var; test -s /var/lib/dpkg/status && echo dpkg-ok');
    assert.match(out, /^\/dev\/vda2 ext4$/m);
    assert.match(out, /dpkg-ok/);
  });
});

test('lost-password: SSH answers but the lab key is refused', { timeout: bootTimeoutMs + 60_000 }, async () => {
  await withServer('plain', ['lost-password'], async (vm, key) => {
    const banner = await waitFor(() => sshBanner(vm.sshPort, 3000), bootTimeoutMs, vm);
    assert.match(banner ?? '', /^SSH-2\.0-OpenSSH/);
    const login = await sshRun(vm.sshPort, key, 'true');
    assert.notEqual(login.code, 0);
    assert.match(login.stderr, /Permission denied/);
  });
});

test('no-network: the system boots but SSH never sends a banner', { timeout: bootTimeoutMs + 60_000 }, async () => {
  await withServer('plain', ['no-network'], async (vm) => {
    const login = await waitFor(
      async () => ((await serialText(vm)).match(/^lab login:/m) ? true : undefined),
      bootTimeoutMs,
      vm,
    );
    assert.ok(login, `no login prompt on ttyS0:\n${(await serialText(vm)).slice(-2000)}`);
    assert.match(await serialText(vm), /nftables/);
    assert.equal(await sshBanner(vm.sshPort, 8000), undefined);
  });
});

test('corrupt-fs: the boot-time fsck gives up and the boot stops', { timeout: bootTimeoutMs + 60_000 }, async () => {
  await withServer('plain', ['corrupt-fs'], async (vm) => {
    const stopped = await waitFor(
      async () => ((await serialText(vm)).match(/You are in emergency mode|RUN fsck MANUALLY/) ? true : undefined),
      bootTimeoutMs,
      vm,
    );
    const log = await serialText(vm);
    assert.ok(stopped, `the boot did not stop:\n${log.slice(-2500)}`);
    assert.match(log, /Failed to start .*File System Check on Root Device|UNEXPECTED INCONSISTENCY/);
    assert.equal(await sshBanner(vm.sshPort, 5000), undefined);
  });
});
