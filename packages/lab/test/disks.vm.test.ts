// Boots lab disks in QEMU (TCG, one VM at a time) to prove that the installed system works and
// that a scenario reproduces its fault.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createServerDisks, ensureScenarioDisks } from '../src/disks/index.js';
import { bootDisks, serialText, sshBanner, sshRun, waitFor, type BootedVm } from './disks-boot.js';

let work: string;
let vm: BootedVm | undefined;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'lab-disks-vm-'));
  // Build (or find) the images first, so that boot timings do not include builds.
  await ensureScenarioDisks('plain', ['broken-fstab'], { onProgress: (line) => console.log(`# ${line}`) });
});
after(async () => {
  await vm?.stop();
  await rm(work, { recursive: true, force: true });
});

test('plain: the installed Debian boots from its disk to SSH with the lab key', { timeout: 300_000 }, async () => {
  const dir = join(work, 'plain');
  const server = await createServerDisks({ layout: 'plain', dir });
  vm = await bootDisks(server.disks, dir);
  try {
    const login = await waitFor(async () => {
      const result = await sshRun(vm!.sshPort, server.base.login.keyFile, 'hostname; cat /proc/cmdline; findmnt -n -o SOURCE /; systemctl is-system-running --wait');
      return result.code === 0 || /running|degraded/.test(result.stdout) ? result : undefined;
    }, 240_000, vm);
    assert.ok(login, `no SSH login; serial log tail:\n${(await serialText(vm)).slice(-2000)}`);
    console.log(`# plain: power-on to SSH login ${((Date.now() - vm.startedAt) / 1000).toFixed(1)} s`);
    const [hostname, cmdline] = login.stdout.split('\n');
    assert.equal(hostname, 'lab');
    assert.match(cmdline ?? '', /console=ttyS0,115200/);
    // sshd can answer before the serial getty prints its prompt: wait for the prompt itself.
    const getty = await waitFor(async () => (/lab login:/.test(await serialText(vm!)) ? true : undefined), 60_000, vm);
    assert.ok(getty, `a getty answers on ttyS0; serial log tail:\n${(await serialText(vm)).slice(-2000)}`);
  } finally {
    await vm.stop();
    vm = undefined;
  }
});

test('broken-fstab: the boot stops in emergency mode and SSH never answers', { timeout: 300_000 }, async () => {
  const dir = join(work, 'broken-fstab');
  const server = await createServerDisks({ layout: 'plain', scenarios: ['broken-fstab'], dir });
  vm = await bootDisks(server.disks, dir);
  try {
    const emergency = await waitFor(
      async () => ((await serialText(vm!)).match(/You are in emergency mode/) ? true : undefined),
      240_000,
      vm,
    );
    const log = await serialText(vm);
    assert.ok(emergency, `no emergency mode; serial log tail:\n${log.slice(-2000)}`);
    console.log(`# broken-fstab: power-on to emergency mode ${((Date.now() - vm.startedAt) / 1000).toFixed(1)} s`);
    assert.match(log, /Timed out waiting for device|Dependency failed for .*\/data/);
    assert.equal(await sshBanner(vm.sshPort, 5000), undefined, 'SSH must not answer');
    const login = await sshRun(vm.sshPort, server.base.login.keyFile, 'true');
    assert.notEqual(login.code, 0);
  } finally {
    await vm.stop();
    vm = undefined;
  }
});
