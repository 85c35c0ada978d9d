/**
 * Real firmware against the netboot routes: QEMU's iPXE (virtio-net option ROM, TCG) gets
 * `bootfile=http://10.0.2.2:PORT/boot.ipxe` from QEMU's DHCP, fetches it from the plugin served on
 * loopback, chains to its per-MAC script (whose first fetch fails, to exercise the retry loop), loads
 * the kernel and initrd and boots them; the initrd's /init prints the command line and powers off.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { freeTcpPort } from '@lifeboat/lab';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyInstance } from 'fastify';
import { directoryImageRegistry } from '../../src/netboot/image-registry.js';
import type { BootTarget, NetbootSource } from '../../src/netboot/netboot-source.js';
import { netbootRoutes } from '../../src/netboot/routes.js';
import { initMarker, tinyBootImage } from './tiny-boot-image.js';

const mac = '52:54:00:4c:42:01';
const diskMarker = 'LIFEBOAT-LOCAL-DISK';

/**
 * A 1 MiB disk whose MBR boot sector writes a marker to COM1 and halts: proof that the firmware booted
 * the local disk. 16-bit code at 0x7c00: xor ax,ax; mov ds,ax; mov si,msg; mov dx,0x3f8;
 * loop: lodsb; test al,al; jz done; out dx,al; jmp loop; done: cli; hlt; jmp hlt; msg: db marker,13,10,0
 */
/** SeaBIOS mirrors its screen, and iPXE's, to COM1 when fw_cfg names the port: iPXE's messages reach the serial log. */
function sercon(): string[] {
  const file = join(dir, 'sercon-port.bin');
  writeFileSync(file, Buffer.from([0xf8, 0x03]));
  return ['-fw_cfg', `name=etc/sercon-port,file=${file}`];
}

let dir: string;

function localDiskImage(): Buffer {
  const code = [0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x16, 0x7c, 0xba, 0xf8, 0x03, 0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xfa, 0xf4, 0xeb, 0xfd];
  const image = Buffer.alloc(1024 * 1024);
  Buffer.from(code).copy(image, 0);
  Buffer.from(`${diskMarker}\r\n\0`, 'latin1').copy(image, code.length);
  image[510] = 0x55;
  image[511] = 0xaa;
  return image;
}


describe('iPXE in QEMU boots through the netboot routes', () => {
  let app: FastifyInstance;
  let qemu: ChildProcess | undefined;
  const requests: string[] = [];
  const steps: string[] = [];
  let imageId: string;

  before(async () => {
    const imageDir = tinyBootImage();
    imageId = basename(imageDir);
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-ipxe-vm-'));
    const source: NetbootSource = {
      async bootTargetFor(asked): Promise<BootTarget> {
        return asked === mac ? { kind: 'rescue', serverId: 'srv-vm', sessionId: 'ses-vm', imageId, bootToken: 'bt_vm-Token_1' } : { kind: 'disk' };
      },
      async recordBootStep(serverId, step) {
        steps.push(`${step}:${serverId}`);
      },
    };
    app = Fastify();
    let perMacFetches = 0;
    app.addHook('onRequest', async (request, reply) => {
      requests.push(`${request.method} ${decodeURIComponent(request.url)}`); // iPXE escapes the colons of the MAC
      // The first per-MAC fetch fails, as a control plane restarting would: iPXE must retry.
      if (request.url.startsWith('/v1/boot/') && ++perMacFetches === 1) return reply.code(503).send('restarting');
    });
    const port = await freeTcpPort();
    await app.register(netbootRoutes, { source, images: directoryImageRegistry(dirname(imageDir)), bootUrl: `http://10.0.2.2:${port}`, retry: { attempts: 5, delaySeconds: 1 } });
    await app.listen({ host: '127.0.0.1', port });
  });

  after(async () => {
    if (qemu && qemu.exitCode === null && qemu.signalCode === null) {
      const gone = new Promise((resolve) => qemu!.once('exit', resolve));
      qemu.kill('SIGKILL');
      await gone;
    }
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fetches boot.ipxe, retries the per-MAC script, loads kernel and initrd and boots them with the rescue command line', async () => {
    const port = (app.server.address() as AddressInfo).port;
    const serialLog = join(dir, 'serial.log');
    const started = Date.now();
    qemu = spawn('qemu-system-x86_64', [
      '-accel', 'tcg', '-smp', '1', '-m', '512', '-display', 'none', '-monitor', 'none', '-no-reboot',
      '-serial', `file:${serialLog}`, ...sercon(),
      '-netdev', `user,id=n0,bootfile=http://10.0.2.2:${port}/boot.ipxe`,
      '-device', `virtio-net-pci,netdev=n0,mac=${mac}`,
      '-boot', 'n',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    qemu.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => qemu!.once('exit', (code) => resolve(code)));
    const serial = (): string => {
      try {
        return readFileSync(serialLog, 'utf8');
      } catch {
        return '';
      }
    };
    // The guest powers itself off once /init has printed its line; give TCG two minutes.
    const patience = new AbortController();
    const outcome = await Promise.race([
      exited.then(() => 'exited'),
      sleep(120_000, 'timeout', { signal: patience.signal }).catch(() => 'timeout'),
    ]);
    patience.abort();
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const log = serial();
    assert.equal(outcome, 'exited', `QEMU still running after 120 s; requests: ${requests.join(', ')}; ${stderr}`);
    const line = log.split('\n').find((l) => l.includes(initMarker));
    assert.ok(line, `the initrd's /init ran (serial log tail: ${log.slice(-600)})`);
    assert.match(line, /lifeboat\.server=srv-vm lifeboat\.token=bt_vm-Token_1 /);
    assert.match(line, new RegExp(`lifeboat\\.rootfs=http://10\\.0\\.2\\.2:${port}/v1/images/${imageId}/rootfs\\.squashfs\\?server=srv-vm`));
    assert.match(line, /console=ttyS0,115200/);
    // SeaBIOS's mirror of the screen wraps lines at 80 columns
    assert.ok(log.replaceAll('\r\n', '').includes('failed (attempt 1 of 5); retrying in 1 s'), 'iPXE ran the retry loop');
    assert.deepEqual(requests.slice(0, 3), ['GET /boot.ipxe', `GET /v1/boot/${mac}.ipxe`, `GET /v1/boot/${mac}.ipxe`]);
    assert.ok(requests.includes(`GET /v1/images/${imageId}/vmlinuz?server=srv-vm`));
    assert.ok(requests.includes(`GET /v1/images/${imageId}/initrd?server=srv-vm`));
    assert.deepEqual(steps, ['ipxe_script_served:srv-vm', 'kernel_fetched:srv-vm', 'initrd_fetched:srv-vm']);
    console.log(`# power-on to /init and power-off: ${seconds} s (TCG, shared CPU)`);
  });

  it('boots the local disk for a MAC Lifeboat does not know', async () => {
    const port = (app.server.address() as AddressInfo).port;
    const serialLog = join(dir, 'serial-disk.log');
    const disk = join(dir, 'disk.img');
    writeFileSync(disk, localDiskImage());
    if (qemu && qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
    const first = requests.length;
    const started = Date.now();
    qemu = spawn('qemu-system-x86_64', [
      '-accel', 'tcg', '-smp', '1', '-m', '256', '-display', 'none', '-monitor', 'none', '-no-reboot',
      '-serial', `file:${serialLog}`, ...sercon(),
      '-netdev', `user,id=n0,bootfile=http://10.0.2.2:${port}/boot.ipxe`,
      '-device', 'virtio-net-pci,netdev=n0,mac=52:54:00:4c:42:99,bootindex=1',
      '-drive', `file=${disk},format=raw,if=none,id=d0,snapshot=on`, '-device', 'virtio-blk-pci,drive=d0,bootindex=2',
    ], { stdio: ['ignore', 'ignore', 'ignore'] });
    const deadline = Date.now() + 120_000;
    let log = '';
    while (!log.includes(diskMarker)) {
      assert.ok(Date.now() < deadline, `the disk's boot sector never ran; requests: ${requests.slice(first).join(', ')}`);
      await sleep(250);
      try {
        log = readFileSync(serialLog, 'latin1');
      } catch {
        log = '';
      }
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    assert.deepEqual(requests.slice(first), ['GET /boot.ipxe', 'GET /v1/boot/52:54:00:4c:42:99.ipxe']);
    assert.notEqual(steps.at(-1), 'ipxe_script_served:srv-vm', 'a local-disk answer records no step');
    assert.ok(log.includes('Lifeboat: booting from the local disk'), 'the local-disk script ran');
    assert.ok(/Booting from SAN device 0x8/.test(log), `sanboot, not the firmware's fallback, booted the disk: ${log.slice(-400)}`);
    console.log(`# power-on to the local disk's boot sector through sanboot: ${seconds} s (TCG, shared CPU)`);
  });
});
