// A lab server boots its installed Debian the data-centre way: power on through the BMC, iPXE asks the
// boot server, is told to boot the local disk, and the installed system answers SSH with the lab key.
import assert from 'node:assert/strict';
import { loadavg } from 'node:os';
import { after, before, test } from 'node:test';
import { main } from '../src/cli.js';
import { serverDir } from '../src/lab-state.js';
import { ServerVm } from '../src/vm/server-vm.js';
import { cleanUpLab, cpuSeconds, eventually, firstServer, ipmitool, lab, processesMentioning, redfishtool, sshAnswers, sshRun, startBootServer, useTempLab } from './lab-fixture.js';
import type { BootServer } from './lab-fixture.js';

let dir: string;
let boot: BootServer;

before(async () => {
  // What the control plane answers a server that is not in rescue (docs/architecture.md, step 3).
  boot = await startBootServer('#!ipxe\nsanboot --no-describe --drive 0x80 || exit\n');
  dir = useTempLab();
  await lab('up', '--layout', 'plain', '--off', '--boot-url', boot.guestUrl);
});

after(async () => {
  await cleanUpLab(dir);
  await boot.close();
});

test('power on through IPMI: iPXE is told to boot locally and the installed Debian answers SSH', async () => {
  const server = firstServer(dir);
  assert.equal(server.layout, 'plain');
  assert.ok(server.osLogin, 'the lab disks come with the lab login');
  const started = Date.now();
  await ipmitool(server, 'chassis', 'power', 'on');
  await eventually('SSH login with the lab key', () => sshAnswers(server), 420_000);
  const seconds = (Date.now() - started) / 1000;
  const pid = new ServerVm(serverDir(dir, server.name), 1).pid();
  assert.ok(pid);
  const fetchedAfter = ((boot.fetchTimes()[0] ?? Number.NaN) - started) / 1000;
  console.log(`# power-on to SSH of the installed Debian (TCG, through iPXE sanboot): ${seconds.toFixed(1)} s wall clock` +
    ` (iPXE fetched the boot script after ${fetchedAfter.toFixed(1)} s; QEMU used ${cpuSeconds(pid).toFixed(1)} CPU seconds, load average ${loadavg()[0]?.toFixed(1)})`);
  assert.ok(boot.fetches() >= 1, 'the firmware netbooted first and fetched the boot script');
  assert.equal(await main(['ssh', server.name, 'test', '-d', '/etc/systemd']), 0, 'lifeboat lab ssh reaches the installed system');
  // The disk is on SATA (AHCI), so SMART answers as on real hardware.
  assert.match(await sshRun(server, 'lsblk -dno NAME,TRAN /dev/sda'), /^sda\s+sata$/m);
  const smart = await sshRun(server, 'smartctl -i -H /dev/sda');
  assert.match(smart, /QEMU HARDDISK/);
  assert.match(smart, /SMART overall-health self-assessment test result: PASSED/);
  // The data disk is on NVMe: QEMU's controller answers the SMART / health log, and its one
  // partition holds the empty ext4 labelled data.
  assert.match(await sshRun(server, 'lsblk -dno NAME,TRAN /dev/nvme0n1'), /^nvme0n1\s+nvme$/m);
  const nvme = JSON.parse(await sshRun(server, 'smartctl --json -a /dev/nvme0n1 || true')) as {
    device?: { protocol?: string };
    smart_status?: { passed?: boolean };
    nvme_smart_health_information_log?: { critical_warning?: number };
  };
  assert.equal(nvme.device?.protocol, 'NVMe');
  assert.equal(nvme.smart_status?.passed, true);
  assert.equal(nvme.nvme_smart_health_information_log?.critical_warning, 0);
  assert.match(await sshRun(server, 'lsblk -no LABEL,FSTYPE /dev/nvme0n1p1'), /^data\s+ext4$/m);
});

test('bootdev disk is honoured: after a Redfish GracefulRestart the firmware boots the disk without netbooting', async () => {
  const server = firstServer(dir);
  const vm = new ServerVm(serverDir(dir, server.name), 1);
  const pid = vm.pid();
  await ipmitool(server, 'chassis', 'bootdev', 'disk');
  const fetches = boot.fetches();
  await redfishtool(server, 'Systems', '-I', server.name, 'reset', 'GracefulRestart');
  await eventually('the OS shut down and the BMC powered the VM on again', () => vm.pid() !== undefined && vm.pid() !== pid, 300_000);
  await eventually('SSH login after the restart', () => sshAnswers(server), 420_000);
  assert.equal(boot.fetches(), fetches, 'iPXE never asked the boot server: the disk came first');
  await ipmitool(server, 'chassis', 'bootdev', 'pxe');
});

test('ipmitool chassis power soft shuts the installed Debian down (ACPI) and the VM powers off', async () => {
  const server = firstServer(dir);
  const vm = new ServerVm(serverDir(dir, server.name), 1);
  assert.equal(vm.powerState(), 'on');
  await ipmitool(server, 'chassis', 'power', 'soft');
  await eventually('the OS powered the VM off', () => vm.powerState() === 'off', 120_000);
  assert.equal(await ipmitool(server, 'chassis', 'power', 'status'), 'Chassis Power is off');
});

test('lab down leaves no process behind', async () => {
  await lab('down');
  assert.deepEqual(processesMentioning(dir), []);
});
