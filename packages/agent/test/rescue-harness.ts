/**
 * What the agent's VM tests share: the rescue image booted in QEMU as the "power" of a real control
 * plane (a rescue request boots it with the session's kernel command line), the squashfs served over
 * HTTP as the control plane's image route would, one tenant and one server, and SSH commands run in
 * the rescue system. One VM at a time.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { dirname, join } from 'node:path';
import { kernelCommandLine } from '@lifeboat/core';
import { ensureRescueImage } from '@lifeboat/image';
import type { RescueImage } from '@lifeboat/image';
import { startTestControlPlane } from '@lifeboat/test-support';
import type { RescueBoot, RescueView, TestControlPlane, TestMachine } from '@lifeboat/test-support';
import { freePort, RescueVm, ssh, waitFor } from '@lifeboat/test-support';
import type { SshLogin, SshResult } from '@lifeboat/test-support';

/** How the harness is set up. */
export interface RescueHarnessOptions {
  /** The test's scratch directory (removed by `close()` unless LIFEBOAT_KEEP_TEST_DIR is set). */
  readonly work: string;
  readonly mac: string;
  /** The server's name in the control plane (tenant `acme`). */
  readonly serverName: string;
  /** The disks attached at each boot (asked at boot time: a test may make them first). */
  readonly disks: () => readonly string[];
  /** Disks attached on SATA (AHCI), where SMART answers (asked at boot time). */
  readonly sataDisks?: () => readonly string[];
  /** Disks attached as NVMe (asked at boot time). */
  readonly nvmeDisks?: () => readonly string[];
  /** Extra `lifeboat serve` flags. */
  readonly controlPlaneFlags?: readonly string[];
  readonly log: (line: string) => void;
}

/** A rescue VM booted by the control plane when it powers the server on for rescue. */
export class ImageVmMachine implements TestMachine {
  vm: RescueVm | undefined;
  /** The serial log of the current boot (`serial-N.log` in the work directory). */
  serialLog = '';
  boots = 0;
  readonly #boot: (boot: RescueBoot, serialLog: string) => Promise<RescueVm>;

  constructor(boot: (boot: RescueBoot, serialLog: string) => Promise<RescueVm>, readonly work: string) {
    this.#boot = boot;
  }

  get poweredOn(): boolean {
    return this.vm?.running ?? false;
  }

  async bootRescue(boot: RescueBoot): Promise<void> {
    this.boots += 1;
    this.serialLog = join(this.work, `serial-${this.boots}.log`);
    this.vm = await this.#boot(boot, this.serialLog);
  }

  async powerOff(): Promise<void> {
    await this.vm?.stop();
  }
}

/** The running harness. */
export interface RescueHarness {
  readonly image: RescueImage;
  readonly cp: TestControlPlane;
  readonly machine: ImageVmMachine;
  /** Loopback port forwarded to the rescue system's sshd (the server's SSH endpoint). */
  readonly sshPort: number;
  /**
   * Enters rescue with a new key (`id_ed25519` in the work directory), waits for the `rescue` state
   * and returns the login: that key, and a known_hosts file of the host keys the control plane published.
   */
  enterWithKey(): Promise<SshLogin>;
  /** Stops the VM, the control plane and the file server; removes the work directory. */
  close(): Promise<void>;
}

/** Builds (or takes from the cache) the image and starts everything around the VM. */
export async function startRescueHarness(options: RescueHarnessOptions): Promise<RescueHarness> {
  const { work, log } = options;
  const image = await ensureRescueImage({ onProgress: log });
  log(`image ${image.dir} (${image.cached ? 'cached' : 'built'})`);
  const files: Server = createServer((req, res) => {
    if (req.url !== '/rootfs.squashfs') return void res.writeHead(404).end();
    const path = join(image.dir, 'rootfs.squashfs');
    res.writeHead(200, { 'content-length': statSync(path).size, 'content-type': 'application/octet-stream' });
    createReadStream(path).pipe(res);
  });
  await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
  const address = files.address();
  const filesPort = typeof address === 'object' && address ? address.port : 0;
  const sshPort = await freePort();
  const machine = new ImageVmMachine(async (boot, serialLog) => {
    const append = kernelCommandLine({
      controlPlaneUrl: boot.url,
      serverId: boot.serverId,
      bootToken: boot.bootToken,
      rootfsUrl: `http://10.0.2.2:${filesPort}/rootfs.squashfs`,
    });
    return RescueVm.start({
      imageDir: image.dir,
      append,
      sshPort,
      disks: options.disks(),
      ...(options.sataDisks ? { sataDisks: options.sataDisks() } : {}),
      ...(options.nvmeDisks ? { nvmeDisks: options.nvmeDisks() } : {}),
      serialLog,
    });
  }, work);
  const running = await startTestControlPlane(join(work, 'data'), options.mac, machine, [...(options.controlPlaneFlags ?? [])]);
  await running.api('POST', '/v1/tenants', { name: 'acme' });
  await running.api('POST', '/v1/servers', {
    name: options.serverName,
    tenant: 'acme',
    macs: [options.mac],
    bmc: running.bmc.record,
    sshEndpoint: `127.0.0.1:${sshPort}`,
  });
  return {
    image,
    cp: running,
    machine,
    sshPort,
    async enterWithKey() {
      const key = join(work, 'id_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
      const path = `/v1/servers/${options.serverName}/rescue`;
      await running.api('POST', path, { sshKeys: [readFileSync(`${key}.pub`, 'utf8').trim()] }, 202);
      const view = await waitFor('rescue', async () => {
        const v = await running.api<RescueView>('GET', path);
        if (v.state === 'rescue_failed') throw new Error(`${v.reason}\n${machine.vm?.serial().slice(-3000)}`);
        return v.state === 'rescue' ? v : undefined;
      }, 300_000, 500);
      const knownHosts = join(work, 'known_hosts');
      writeFileSync(knownHosts, `${view.ssh.knownHosts.join('\n')}\n`);
      return { port: sshPort, knownHosts, identity: key };
    },
    async close() {
      await running.close();
      await machine.powerOff();
      await new Promise((r) => files.close(r));
      if (process.env.LIFEBOAT_KEEP_TEST_DIR) log(`kept ${work}`);
      else rmSync(work, { recursive: true, force: true });
    },
  };
}

/**
 * `run` (any status) and `ok` (must exit 0; stdout + stderr) over SSH as the current login. A key
 * login's commands share one master connection per login and boot (its socket beside the login's
 * known_hosts file, named after the port, key and known_hosts): checks of who may log in call `ssh`
 * themselves, each with its own connection.
 */
export function sshCommands(login: () => SshLogin, log: (line: string) => void): {
  run(command: string, input?: string): Promise<SshResult>;
  ok(command: string, input?: string): Promise<string>;
} {
  const shared = (l: SshLogin): SshLogin => {
    if (l.identity === undefined) return l;
    const name = createHash('sha256').update(`${l.port}\0${l.identity}\0${l.knownHosts}`).digest('hex').slice(0, 16);
    return { ...l, controlPath: join(dirname(l.knownHosts), `mux-${name}`) };
  };
  const run = async (command: string, input?: string): Promise<SshResult> => {
    const result = await ssh(shared(login()), command, input);
    log(`$ ${command.split('\n')[0]} -> ${result.code}`);
    return result;
  };
  const ok = async (command: string, input?: string): Promise<string> => {
    const r = await run(command, input);
    assert.equal(r.code, 0, `${command}\n${r.stdout}\n${r.stderr}`);
    return r.stdout + r.stderr;
  };
  return { run, ok };
}
