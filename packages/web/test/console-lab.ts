/**
 * A real control plane for the browser tests (its entry point, in a child process), with simulated
 * servers, each behind a Redfish BMC of its own (the lab's simulator, `startRedfishBmc`). A simulated
 * server does what hardware does and nothing more: booted from the network, it fetches its iPXE
 * script, kernel, initrd and root file system over HTTP from the control plane, then its "rescue
 * system" makes the agent's calls when the test says so (so a test sees each step arrive); booted from
 * disk, its installed system answers SSH (a real sshd with its own host key) and shuts down at the
 * ACPI power button. A server whose BMC is "unreachable" has no BMC listening at its address: the
 * real driver fails every power action with BMC_UNREACHABLE.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sshBanner, startControlPlaneProcess, startRedfishBmc, waitFor, type ControlPlaneProcess, type RedfishBmc, type RedfishMachine } from '@lifeboat/test-support';

/** How a simulated server's BMC behaves. */
export type BmcBehaviour = 'healthy' | 'unreachable';

/** A key pair made with ssh-keygen: `publicKey` as in a .pub file, its SHA256 fingerprint. */
export interface HostKey {
  readonly file: string;
  readonly publicKey: string;
  readonly fingerprint: string;
}

function makeHostKey(dir: string, name: string): HostKey {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  const publicKey = readFileSync(`${file}.pub`, 'utf8').trim();
  const fingerprint = execFileSync('ssh-keygen', ['-lf', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1] as string;
  return { file, publicKey, fingerprint };
}

/** The rescue system of a server booted from the network: the agent's calls, made when the test says. */
export class SimulatedRescueSystem {
  readonly #url: string;
  readonly #token: string;
  /** The host key its sshd would serve. */
  readonly hostKey: HostKey;

  constructor(url: string, agentToken: string, hostKey: HostKey) {
    this.#url = url;
    this.#token = agentToken;
    this.hostKey = hostKey;
  }

  async #post(path: string, body: unknown = {}): Promise<void> {
    const response = await fetch(`${this.#url}/v1/agent/${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`agent ${path}: ${response.status} ${await response.text()}`);
  }

  /** `POST /v1/agent/events` (a step of the boot: `agent_started`, `sshd_started`...). */
  step(step: string, detail?: string): Promise<void> {
    return this.#post('events', detail === undefined ? { step } : { step, detail });
  }

  /** `POST /v1/agent/host-keys`. */
  reportHostKeys(): Promise<void> {
    return this.#post('host-keys', { hostKeys: [{ type: 'ssh-ed25519', publicKey: this.hostKey.publicKey, fingerprint: this.hostKey.fingerprint }] });
  }

  /** `POST /v1/agent/ready`: sshd is up with the session's credentials. */
  ready(): Promise<void> {
    return this.#post('ready');
  }
}

/** A simulated server: its power and boot device (what its BMC drives), its network boots, its installed system's sshd. */
export class SimulatedServer implements RedfishMachine {
  readonly name: string;
  readonly mac: string;
  readonly behaviour: BmcBehaviour;
  readonly sshPort: number;
  poweredOn = false;
  #bootDevice: 'network' | 'disk' = 'disk';
  /** The rescue systems booted so far, newest last. */
  readonly rescueBoots: SimulatedRescueSystem[] = [];
  readonly #lab: ConsoleLab;
  #sshd: ChildProcess | undefined;
  readonly #installedKey: HostKey;

  constructor(lab: ConsoleLab, name: string, mac: string, behaviour: BmcBehaviour, sshPort: number, installedKey: HostKey) {
    this.#lab = lab;
    this.name = name;
    this.mac = mac;
    this.behaviour = behaviour;
    this.sshPort = sshPort;
    this.#installedKey = installedKey;
  }

  powerState(): 'on' | 'off' {
    return this.poweredOn ? 'on' : 'off';
  }

  /** Powers on from the boot device: a network boot runs in the background, as firmware would. */
  async powerOn(): Promise<void> {
    if (this.poweredOn) return;
    this.poweredOn = true;
    if (this.#bootDevice === 'network') void this.#networkBoot().catch((error: unknown) => console.error(`# ${this.name}: network boot failed: ${String(error)}`));
    else this.#startInstalledSshd();
  }

  async forceOff(): Promise<void> {
    this.powerOff();
  }

  async reset(): Promise<void> {
    this.powerOff();
    await this.powerOn();
  }

  /** The installed system (or the rescue system) shuts down at the ACPI power button. */
  async pressPowerButton(): Promise<void> {
    this.powerOff();
  }

  async waitForOff(): Promise<boolean> {
    return !this.poweredOn;
  }

  bootDevice(): 'network' | 'disk' {
    return this.#bootDevice;
  }

  async setBootDevice(device: 'network' | 'disk'): Promise<void> {
    this.#bootDevice = device;
  }

  powerOff(): void {
    this.poweredOn = false;
    this.#sshd?.kill('SIGTERM');
    this.#sshd = undefined;
  }

  /** The newest rescue system, once it has booted. */
  rescueSystem(count = 1): Promise<SimulatedRescueSystem> {
    return waitFor(`${this.name}: rescue boot ${count}`, () => this.rescueBoots[count - 1]);
  }

  async #networkBoot(): Promise<void> {
    const url = this.#lab.url;
    const script = await (await fetch(`${url}/v1/boot/${this.mac.replace(/:/g, '-')}.ipxe`)).text();
    const serverId = /lifeboat\.server=(\S+)/.exec(script)?.[1];
    const bootToken = /lifeboat\.token=(\S+)/.exec(script)?.[1];
    if (!serverId || !bootToken) return; // told to boot its disk
    // The image files, from the URLs of the script (its host is the boot URL, as a VM sees it).
    for (const match of script.matchAll(/https?:\/\/\S+?\/v1\/images\/(\S+?)(?=\s|$)/g)) {
      const response = await fetch(`${url}/v1/images/${match[1]}`);
      await response.arrayBuffer();
    }
    for (const file of ['rootfs.squashfs']) await (await fetch(`${url}/v1/images/linux/${file}?server=${encodeURIComponent(serverId)}`)).arrayBuffer();
    const redeem = await fetch(`${url}/v1/agent/redeem`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ serverId, bootToken }) });
    if (!redeem.ok) throw new Error(`redeem: ${redeem.status} ${await redeem.text()}`);
    const { agentToken } = (await redeem.json()) as { agentToken: string };
    this.rescueBoots.push(new SimulatedRescueSystem(url, agentToken, makeHostKey(this.#lab.dir, `${this.name}-rescue-${this.rescueBoots.length + 1}`)));
  }

  #startInstalledSshd(): void {
    if (this.#sshd) return;
    mkdirSync('/run/sshd', { recursive: true });
    // The installed system's sshd: its own host key, admitting nobody (only its key and banner matter).
    this.#sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', '/dev/null', '-h', this.#installedKey.file, '-o', `ListenAddress=127.0.0.1:${this.sshPort}`, '-o', 'AllowUsers=lifeboat-test-nobody', '-o', 'PidFile=none'], {
      stdio: 'ignore',
    });
  }

  /** Resolves once the installed system's sshd answers. */
  installedSystemUp(): Promise<boolean> {
    return waitFor(`${this.name}: installed sshd`, () => sshBanner(this.sshPort));
  }
}

/** The control plane and its simulated servers. */
export class ConsoleLab {
  readonly dir: string;
  readonly servers = new Map<string, SimulatedServer>();
  readonly #bmcs: RedfishBmc[] = [];
  #plane: ControlPlaneProcess | undefined;
  #adminToken = '';

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Starts a control plane (SQLite in a temp dir, a stand-in rescue image). */
  static async start(extraFlags: string[] = []): Promise<ConsoleLab> {
    const lab = new ConsoleLab(mkdtempSync(join(tmpdir(), 'lifeboat-web-')));
    // The simulated rescue system takes no agent work: an exit goes to the BMC after 2 s, not 60 s.
    lab.#plane = await startControlPlaneProcess({ dataDir: join(lab.dir, 'data'), port: await freePort(), flags: ['--exit-agent-timeout', '2s', ...extraFlags] });
    lab.#adminToken = lab.#plane.adminToken();
    return lab;
  }

  /** The control plane's URL (the console is at `/`). */
  get url(): string {
    if (!this.#plane) throw new Error('not started');
    return this.#plane.url;
  }

  /** What the first start printed on the terminal for the first operator (parsed). */
  get firstOperator(): { readonly url: string; readonly name: string; readonly password: string } | undefined {
    const text = this.#plane?.output() ?? '';
    const url = /URL:\s+(\S+)/.exec(text)?.[1];
    const name = /user:\s+(\S+)/.exec(text)?.[1];
    const password = /password:\s+(\S+)/.exec(text)?.[1];
    return url && name && password ? { url, name, password } : undefined;
  }

  /** Calls the API with the operator token; throws unless the status is `expect` (default: a 2xx). */
  async api<T = unknown>(method: string, path: string, body?: unknown, expect?: number): Promise<T> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.#adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (expect === undefined ? !response.ok : response.status !== expect) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** Adds a tenant (once). */
  async addTenant(name: string): Promise<void> {
    await this.api('POST', '/v1/tenants', { name });
  }

  /** Adds a user with a password (through `POST /v1/users`); returns the password. */
  async addUser(name: string, role: 'customer' | 'technician' | 'operator', tenant?: string): Promise<string> {
    const password = `pw-${name}-${Math.random().toString(36).slice(2)}-long`;
    await this.api('POST', '/v1/users', { name, role, ...(tenant ? { tenant } : {}), password });
    return password;
  }

  /** Registers a simulated server (its installed system up) with the control plane. */
  async addServer(name: string, tenant: string, behaviour: BmcBehaviour = 'healthy'): Promise<SimulatedServer> {
    const sshPort = await freePort();
    const index = this.servers.size + 1;
    const mac = `52:54:00:77:00:${index.toString(16).padStart(2, '0')}`;
    const server = new SimulatedServer(this, name, mac, behaviour, sshPort, makeHostKey(this.dir, `${name}-installed`));
    this.servers.set(name, server);
    let bmc = { url: `redfish://127.0.0.1:${await freePort()}/redfish/v1/Systems/1`, user: 'admin', password: 'bmc-secret' }; // nothing listens there
    if (behaviour === 'healthy') {
      await server.powerOn();
      const redfish = await startRedfishBmc(server, mac);
      this.#bmcs.push(redfish);
      bmc = redfish.record;
    }
    await this.api('POST', '/v1/servers', { name, tenant, macs: [mac], bmc, sshEndpoint: `127.0.0.1:${sshPort}` });
    return server;
  }

  /** Stops the servers' sshd, their BMCs and the control plane; removes the temp dir. */
  async close(): Promise<void> {
    await this.#plane?.stop();
    for (const bmc of this.#bmcs) await bmc.close();
    for (const server of this.servers.values()) server.powerOff();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
