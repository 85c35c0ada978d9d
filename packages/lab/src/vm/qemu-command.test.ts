import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { qemuArguments, startScript, vmFiles } from './qemu-command.js';
import type { VmSpec } from './qemu-command.js';

let dir: string;
let spec: VmSpec;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "lifeboat vm 'q' "));
  spec = {
    name: 'lab-1',
    serverDir: dir,
    mac: '52:54:00:1b:00:01',
    uuid: '11111111-2222-4333-8444-555555555555',
    sshPort: 40022,
    bootUrl: 'http://10.0.2.2:8080/boot.ipxe',
    disks: [
      { path: join(dir, 'disk0.qcow2'), format: 'qcow2' },
      { path: join(dir, 'disk1.qcow2'), format: 'qcow2' },
    ],
    memoryMiB: 1024,
    accel: 'tcg',
  };
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('the VM is a TCG machine with 1 vCPU, an iPXE NIC with fixed MAC and boot URL, SATA disks, QMP and a logged serial port', () => {
  const args = qemuArguments(spec).join(' ');
  assert.match(args, /-accel tcg/);
  assert.match(args, /-smp 1 -m 1024/);
  assert.match(args, /-netdev user,id=n0,bootfile=http:\/\/10\.0\.2\.2:8080\/boot\.ipxe,hostfwd=tcp:127\.0\.0\.1:40022-:22/);
  assert.match(args, /-device virtio-net-pci,netdev=n0,mac=52:54:00:1b:00:01,id=nic0/);
  assert.match(args, /-device virtio-rng-pci/, 'an entropy source, as real servers have');
  assert.match(args, /-device ahci,id=ahci0/);
  assert.match(args, /ide-hd,drive=drive1,bus=ahci0\.1,id=disk1/);
  assert.ok(args.includes(`-qmp unix:${vmFiles(dir).qmpSocket},server=on,wait=off`));
  assert.ok(args.includes(`logfile=${vmFiles(dir).serialLog},logappend=on`));
  assert.match(args, /-daemonize/);
  assert.doesNotMatch(args, /-no-reboot/, 'a reset through the BMC must not end QEMU');
});

function startWith(bootDevice: string | undefined): string {
  // A stand-in for the QEMU binary that prints its arguments, one a line: the script's quoting and
  // boot-index arithmetic are checked as sh runs them.
  const printer = join(dir, 'print-args');
  writeFileSync(printer, '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n', { mode: 0o755 });
  writeFileSync(vmFiles(dir).startScript, startScript(spec, `'${printer.replaceAll("'", `'\\''`)}'`));
  if (bootDevice) writeFileSync(vmFiles(dir).bootDevice, `${bootDevice}\n`);
  else rmSync(vmFiles(dir).bootDevice, { force: true });
  return execFileSync('/bin/sh', [vmFiles(dir).startScript], { encoding: 'utf8' });
}

test('start-vm.sh boots the network first by default and the disk first after "disk" is stored', () => {
  const network = startWith(undefined).split('\n');
  assert.ok(network.includes('virtio-net-pci,netdev=n0,mac=52:54:00:1b:00:01,id=nic0,bootindex=1'));
  assert.ok(network.includes('ide-hd,drive=drive0,bus=ahci0.0,id=disk0,serial=LAB-lab-1-0,bootindex=2'));
  assert.ok(network.includes('ide-hd,drive=drive1,bus=ahci0.1,id=disk1,serial=LAB-lab-1-1,bootindex=3'));
  assert.ok(network.includes(`file=${join(dir, 'disk0.qcow2')}`) || network.some((a) => a.includes(`file=${join(dir, 'disk0.qcow2')},`)), 'paths with quotes and spaces survive');
  const disk = startWith('disk').split('\n');
  assert.ok(disk.includes('virtio-net-pci,netdev=n0,mac=52:54:00:1b:00:01,id=nic0,bootindex=9'));
  assert.ok(disk.includes('ide-hd,drive=drive0,bus=ahci0.0,id=disk0,serial=LAB-lab-1-0,bootindex=1'));
  assert.ok(disk.includes('ide-hd,drive=drive1,bus=ahci0.1,id=disk1,serial=LAB-lab-1-1,bootindex=2'));
});

test('NVMe disks (the data disk) are NVMe controllers with a serial, after the SATA disks and never in the boot order', () => {
  const withNvme: VmSpec = { ...spec, nvmeDisks: [{ path: join(dir, 'data.qcow2'), format: 'qcow2' }] };
  const args = qemuArguments(withNvme);
  const device = args[args.indexOf('nvme,drive=nvmedrive0,id=nvme0,serial=LABNVME-lab-1-0')];
  assert.ok(device, `an nvme device in ${args.join(' ')}`);
  assert.ok(args.includes(`if=none,id=nvmedrive0,file=${join(dir, 'data.qcow2')},format=qcow2,discard=unmap`));
  assert.ok(args.indexOf('nvme,drive=nvmedrive0,id=nvme0,serial=LABNVME-lab-1-0') > args.findLastIndex((a) => a.startsWith('ide-hd,')));
  assert.equal(args.filter((a) => a.startsWith('nvme,') && a.includes('bootindex')).length, 0);
  assert.equal(qemuArguments(spec).filter((a) => a.startsWith('nvme,')).length, 0, 'no NVMe disk unless given');
});
