/**
 * The helpers against real installed Debian 12 systems: the lab's disk images (`@lifeboat/lab`,
 * layouts plain, split-var, xfs, raid1, lvm; built once and cached), all attached to one rescue VM
 * (writes discarded), logged into with a key. Each root is found by its UUID from the layout's
 * description, its fstab mounted in order, entered with chroot, checked for refusal by rescue-fsck.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureRescueImage, kernelCommandLine } from '@lifeboat/image';
import type { RescueImage } from '@lifeboat/image';
import { ensureLayoutDisks } from '@lifeboat/lab';
import type { LayoutDisks, LayoutName } from '@lifeboat/lab';
import { startTestControlPlane } from './control-plane.js';
import type { RescueBoot, RescueView, TestControlPlane, TestMachine } from './control-plane.js';
import { freePort, RescueVm, ssh, waitFor } from './rescue-vm.js';
import type { SshLogin, SshResult } from './rescue-vm.js';

const work = mkdtempSync(join(tmpdir(), 'lifeboat-lab-disks-vm-'));
const mac = '52:54:00:ab:cd:02';
const log = (line: string): void => void process.stdout.write(`# ${line}\n`);
const layouts: LayoutName[] = ['plain', 'split-var', 'xfs', 'raid1', 'lvm'];
const layoutDisks = new Map<LayoutName, LayoutDisks>();

let image: RescueImage;
let files: Server;
let filesPort = 0;
let sshPort = 0;
let cp: TestControlPlane;
let login: SshLogin;

class VmMachine implements TestMachine {
  vm: RescueVm | undefined;
  get poweredOn(): boolean {
    return this.vm?.running ?? false;
  }
  async bootRescue(boot: RescueBoot): Promise<void> {
    const append = kernelCommandLine({
      controlPlaneUrl: cp.running.bootUrl,
      serverId: boot.serverId,
      bootToken: boot.bootToken,
      rootfsUrl: `http://10.0.2.2:${filesPort}/rootfs.squashfs`,
    });
    const disks = layouts.flatMap((l) => layoutDisks.get(l)?.disks ?? []);
    this.vm = await RescueVm.start({ imageDir: image.dir, append, sshPort, disks, serialLog: join(work, 'serial.log') });
  }
  async powerOff(): Promise<void> {
    await this.vm?.stop();
  }
}
const machine = new VmMachine();

before(async () => {
  image = await ensureRescueImage({ onProgress: log });
  for (const layout of layouts) layoutDisks.set(layout, await ensureLayoutDisks(layout, { onProgress: log }));
  files = createServer((req, res) => {
    if (req.url !== '/rootfs.squashfs') return void res.writeHead(404).end();
    const path = join(image.dir, 'rootfs.squashfs');
    res.writeHead(200, { 'content-length': statSync(path).size });
    createReadStream(path).pipe(res);
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  const address = files.address();
  filesPort = typeof address === 'object' && address ? address.port : 0;
  sshPort = await freePort();
  cp = await startTestControlPlane(join(work, 'data'), mac, machine);
  await cp.api('POST', '/v1/tenants', { name: 'acme' });
  await cp.api('POST', '/v1/servers', { name: 'db-1', tenant: 'acme', macs: [mac], bmc: { url: 'ipmi://127.0.0.1:1', user: 'admin' }, sshEndpoint: `127.0.0.1:${sshPort}` });
});

after(async () => {
  await cp?.close();
  await machine.powerOff();
  await new Promise((r) => (files ? files.close(r) : r(undefined)));
  rmSync(work, { recursive: true, force: true });
});

async function run(command: string, input?: string): Promise<SshResult> {
  const result = await ssh(login, command, input);
  log(`$ ${command} -> ${result.code}`);
  return result;
}

async function ok(command: string, input?: string): Promise<string> {
  const r = await run(command, input);
  assert.equal(r.code, 0, `${command}\n${r.stdout}\n${r.stderr}`);
  return r.stdout + r.stderr;
}

test('boots into rescue with the customer\'s key; every installed system is listed by the menu', async () => {
  const key = join(work, 'id_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  await cp.api('POST', '/v1/servers/db-1/rescue', { sshKeys: [readFileSync(`${key}.pub`, 'utf8').trim()] }, 202);
  const view = await waitFor('rescue', 300_000, async () => {
    const v = await cp.api<RescueView>('GET', '/v1/servers/db-1/rescue');
    if (v.state === 'rescue_failed') throw new Error(v.reason ?? 'rescue failed');
    return v.state === 'rescue' ? v : undefined;
  }, 500);
  const knownHosts = join(work, 'known_hosts');
  writeFileSync(knownHosts, `${view.ssh.knownHosts.join('\n')}\n`);
  login = { port: sshPort, knownHosts, identity: key };
  const menu = await ok('rescue-menu');
  // plain, split-var and xfs roots sit on partitions; raid1 and lvm behind md and LVM (counted as members).
  assert.equal((menu.match(/Debian GNU\/Linux 12/g) ?? []).length, 3, menu);
  assert.match(menu, /RAID\/LVM member/);
});

for (const layout of layouts) {
  test(`${layout}: rescue-mount mounts the installed Debian's fstab, chroot works, fsck is refused, umount undoes it`, async () => {
    const disks = layoutDisks.get(layout) as LayoutDisks;
    const root = disks.fileSystems.find((f) => f.mount === '/');
    assert.ok(root);
    const out = await ok(`rescue-mount --root UUID=${root.uuid}`);
    assert.match(out, /Installed system on \S+ mounted at \/mnt/);
    const mounted = (await ok("awk '$2 ~ \"^/mnt\" { print $1, $2, $3 }' /proc/mounts")).trim().split('\n');
    const expected = [...disks.fileSystems].sort((a, b) => a.mount.length - b.mount.length).map((f) => `${f.mount === '/' ? '/mnt' : `/mnt${f.mount}`} ${f.type}`);
    assert.deepEqual(mounted.map((l) => l.split(' ').slice(1).join(' ')), expected);
    assert.match(await ok('rescue-chroot cat /etc/debian_version'), /^12\./);
    assert.match(await ok('rescue-chroot /bin/bash -c "findmnt -n -o TARGET /proc && id -un"'), /^\/proc\nroot\n$/);
    const rootDevice = mounted[0]?.split(' ')[0] ?? '';
    const refused = await run(`rescue-fsck ${rootDevice}`);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /refused/);
    if (layout === 'plain') {
      const password = 'Fresh-root-pass-42';
      await ok('rescue-passwd --password-stdin', `${password}\n`);
      const hash = (await ok('grep ^root: /mnt/etc/shadow | cut -d: -f2')).trim();
      assert.equal(execFileSync('openssl', ['passwd', '-6', '-salt', hash.split('$')[2] ?? '', '-stdin'], { input: `${password}\n`, encoding: 'utf8' }).trim(), hash);
    }
    await ok('rescue-umount');
    assert.equal((await ok("awk '$2 ~ \"^/mnt\"' /proc/mounts")).trim(), '');
    assert.doesNotMatch(await ok('cat /proc/mdstat'), /^md/m, 'arrays stopped');
  });
}
