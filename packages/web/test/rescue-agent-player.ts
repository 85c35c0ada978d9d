/**
 * The rescue system's agent, played by a browser test through the public agent API (the real
 * boundary of the agent: a machine the test cannot provide). It redeems the boot token the control
 * plane gave the "machine", reports host keys, an inventory and ready, heartbeats, and answers work
 * as strictly as the real agent: the explorer's kinds from a real directory tree (one folder per
 * device), downloads as a streamed upload (a directory as a real `tar` stream), and hardware tests
 * driven step by step by the test (progress, output, outcome), honouring a cancel the user asked for,
 * and the rescue doctor: it posts the reports the test gives (`POST /v1/agent/doctor`) and answers
 * `doctor_fix`/`doctor_undo` work when the test says, as the real agent does: the file changed in the
 * device's tree with a copy kept beside it (`FILE.lifeboat-<time>`), put back by the undo, and a
 * `DoctorFixOutcome` with the finding as it now stands (or the error's code).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, createReadStream, existsSync, lstatSync, openSync, readSync, closeSync, readdirSync, readFileSync, readlinkSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import type { RescueBoot, TestMachine } from '@lifeboat/test-support';
import { doctorFixWork, doctorUndoWork, type DoctorFinding, type DoctorFixOutcome, type DoctorFixWorkParams, type DoctorReport, type HardwareTestOutcome, type HardwareTestWorkParams } from '@lifeboat/core';

/** A hardware test the agent received and runs until the test ends it. */
export interface PlayedTest {
  readonly workId: string;
  readonly params: HardwareTestWorkParams;
  /** Reports progress; answers whether the user asked to cancel. */
  progress(progress: number, summary: string, output?: string): Promise<boolean>;
  /** Ends the test with its outcome. */
  finish(outcome: HardwareTestOutcome): Promise<void>;
}

/** How the played agent fixes one finding: the file it changes (a path of the installed system) and the change. */
export interface PlayedDoctorFix {
  readonly file: string;
  /** The new text of the file; `passwordHash` for a `root-password` fix. */
  change(text: string, passwordHash: string | undefined): string;
}

/** A doctor fix or undo the agent received, answered when the test says. */
export interface PlayedDoctorWork {
  readonly workId: string;
  readonly kind: typeof doctorFixWork | typeof doctorUndoWork;
  readonly params: DoctorFixWorkParams;
  /** Does it as the real agent does and answers with the outcome (also returned). */
  answer(): Promise<DoctorFixOutcome>;
  /** Answers that it could not (`ok: false` with this code and message). */
  refuse(code: string, message: string): Promise<void>;
}

/** One job of the agent's long poll. */
interface Job {
  readonly id: string;
  readonly kind: string;
  readonly params: Record<string, unknown>;
}

/** The played agent of one rescue session. */
export class RescueAgentPlayer {
  readonly #url: string;
  readonly #disks: string;
  readonly #stop = new AbortController();
  #token: string | null = null;
  #loop: Promise<void> | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  readonly #tests: PlayedTest[] = [];
  readonly #doctorWork: PlayedDoctorWork[] = [];
  readonly #waiters: Array<() => void> = [];
  #doctor: { report: DoctorReport; device: string; fixes: Readonly<Record<string, PlayedDoctorFix>> } | null = null;
  /** Per applied finding: each changed file (installed system path) and its copy. */
  readonly #applied = new Map<string, { file: string; backup: string }>();

  /**
   * `url`: the control plane. `disks`: a directory with one folder per device (`sda1/`, `vg0/root/`),
   * each the root of that partition's file system.
   */
  constructor(url: string, disks: string) {
    this.#url = url.replace(/\/+$/, '');
    this.#disks = realpathSync(disks);
  }

  /** What the machine does when it boots into rescue with these parameters. */
  async boot(serverId: string, bootToken: string): Promise<void> {
    const redeemed = await this.#call<{ agentToken: string }>('POST', '/redeem', { serverId, bootToken }, false);
    this.#token = redeemed.agentToken;
    await this.#call('POST', '/events', { step: 'agent_started' });
    await this.#call('POST', '/host-keys', { hostKeys: [{ type: 'ssh-ed25519', publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnJ8Pd7D4m0Iy0g3KDXvYbM0k7yqsb6TLoXq1Fh3oA2 root@rescue', fingerprint: 'SHA256:Gm0Wm7x4a1Jb0m3t3H4Pq0b5gm0pSxF8Ck7dT3mYk0E' }] });
    await this.#call('POST', '/inventory', {
      cpus: 2,
      memoryBytes: 2 * 1024 ** 3,
      disks: [{ name: 'sda', type: 'disk', fstype: null, size: 10 * 1024 ** 3, children: this.#devices().map((name) => ({ name, type: 'part', fstype: 'ext4', label: name, size: 5 * 1024 ** 3 })) }],
      nics: [{ name: 'eth0', mac: '52:54:00:12:34:56', addresses: ['192.0.2.10/24'] }],
      dmi: { vendor: 'QEMU', product: 'Standard PC', serial: null },
    });
    await this.#call('POST', '/ready', {});
    this.#heartbeat = setInterval(() => void this.#call('POST', '/heartbeat', {}).catch(() => undefined), 20_000);
    this.#loop = this.#poll();
  }

  /** The next hardware test the agent receives (waits for it). */
  nextTest(timeoutMs = 30_000): Promise<PlayedTest> {
    return this.#next(this.#tests, 'hardware test', timeoutMs);
  }

  /**
   * Reports what the doctor found (`POST /v1/agent/doctor`); a `done` report's fixes are then done
   * with `fixes` (by finding id) on `device`'s tree, when the test answers their work.
   */
  async reportDoctor(report: DoctorReport, fixes: Readonly<Record<string, PlayedDoctorFix>> = {}, device = 'sda1'): Promise<void> {
    this.#doctor = { report, device, fixes };
    await this.#call('POST', '/doctor', report);
  }

  /** The next doctor fix or undo the agent receives (waits for it). */
  nextDoctorWork(timeoutMs = 30_000): Promise<PlayedDoctorWork> {
    return this.#next(this.#doctorWork, 'doctor work', timeoutMs);
  }

  async #next<T>(queue: T[], what: string, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (queue.length === 0) {
      if (Date.now() > deadline) throw new Error(`no ${what} arrived`);
      await new Promise<void>((done) => {
        const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(timer);
          done();
        });
      });
    }
    return queue.shift()!;
  }

  /** Powers off: stops polling and heartbeating. */
  async stop(): Promise<void> {
    this.#stop.abort();
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    await this.#loop?.catch(() => undefined);
  }

  #devices(): string[] {
    return readdirSync(this.#disks, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  }

  async #poll(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      let jobs: Job[];
      try {
        jobs = (await this.#call<{ jobs: Job[] }>('GET', '/work?waitSeconds=2')).jobs;
      } catch {
        if (this.#stop.signal.aborted) return;
        await new Promise((done) => setTimeout(done, 200));
        continue;
      }
      for (const job of jobs) void this.#handle(job).catch(() => undefined);
    }
  }

  async #handle(job: Job): Promise<void> {
    if (job.kind === 'hardware_test' || job.kind === doctorFixWork || job.kind === doctorUndoWork) {
      if (job.kind === 'hardware_test') this.#tests.push(this.#playedTest(job));
      else this.#doctorWork.push(this.#playedDoctorWork(job));
      this.#waiters.splice(0).forEach((wake) => wake());
      return;
    }
    try {
      const result = await this.#explorer(job);
      await this.#call('POST', `/work/${job.id}/result`, { state: 'completed', result });
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'INTERNAL';
      await this.#call('POST', `/work/${job.id}/result`, { state: 'failed', message: (error as Error).message, result: { code } });
    }
  }

  #playedTest(job: Job): PlayedTest {
    return {
      workId: job.id,
      params: job.params as unknown as HardwareTestWorkParams,
      progress: async (progress, summary, output) => (await this.#call<{ cancel: boolean }>('POST', `/work/${job.id}/progress`, { progress, summary, ...(output ? { output } : {}) })).cancel,
      finish: (outcome) => this.#call('POST', `/work/${job.id}/result`, { state: 'completed', result: outcome }),
    };
  }

  #playedDoctorWork(job: Job): PlayedDoctorWork {
    const params = job.params as unknown as DoctorFixWorkParams;
    const kind = job.kind as PlayedDoctorWork['kind'];
    const send = (outcome: DoctorFixOutcome) => this.#call('POST', `/work/${job.id}/result`, { state: 'completed', result: outcome });
    return {
      workId: job.id,
      kind,
      params,
      answer: async () => {
        let outcome: DoctorFixOutcome;
        try {
          outcome = { ok: true, finding: kind === doctorFixWork ? this.#applyFix(params) : this.#undoFix(params.findingId) };
        } catch (error) {
          outcome = { ok: false, error: { code: (error as { code?: string }).code ?? 'DOCTOR_FIX_FAILED', message: (error as Error).message } };
        }
        await send(outcome);
        return outcome;
      },
      refuse: (code, message) => send({ ok: false, error: { code, message } }),
    };
  }

  /** The finding of the last report with its fix, or the agent's errors. */
  #fixable(findingId: string): { finding: DoctorFinding & { fix: NonNullable<DoctorFinding['fix']> }; how: PlayedDoctorFix; device: string } {
    const finding = this.#doctor?.report.findings.find((f) => f.id === findingId);
    if (!this.#doctor || !finding) throw Object.assign(new Error(`the doctor's last run found no ${findingId}`), { code: 'DOCTOR_FINDING_UNKNOWN' });
    const how = this.#doctor.fixes[findingId];
    if (!finding.fix || !how) throw Object.assign(new Error(`${findingId} has no fix the doctor can apply`), { code: 'DOCTOR_FIX_UNAVAILABLE' });
    return { finding: finding as DoctorFinding & { fix: NonNullable<DoctorFinding['fix']> }, how, device: this.#doctor.device };
  }

  #applyFix(params: DoctorFixWorkParams): DoctorFinding {
    const { finding, how, device } = this.#fixable(params.findingId);
    if (finding.fix.kind === 'root-password' && !params.passwordHash?.startsWith('$6$')) throw Object.assign(new Error('root-password needs passwordHash'), { code: 'DOCTOR_FIX_INVALID' });
    const path = this.#resolve(device, how.file);
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const backup = `${how.file}.lifeboat-${stamp}`;
    copyFileSync(path, `${path}.lifeboat-${stamp}`);
    writeFileSync(path, how.change(readFileSync(path, 'utf8'), params.passwordHash));
    this.#applied.set(finding.id, { file: how.file, backup });
    return { ...finding, fix: { ...finding.fix, state: 'applied', changedFiles: [how.file], backups: [backup] } };
  }

  #undoFix(findingId: string): DoctorFinding {
    const { finding, device } = this.#fixable(findingId);
    const applied = this.#applied.get(findingId);
    if (applied) renameSync(this.#resolve(device, applied.backup), this.#resolve(device, applied.file));
    this.#applied.delete(findingId);
    return { ...finding, fix: { kind: finding.fix.kind, description: finding.fix.description, state: 'available' } };
  }

  /** The real path of `path` on `device`, refusing what leaves the partition like the agent does. */
  #resolve(device: string, path: string): string {
    const root = join(this.#disks, device);
    if (!existsSync(root)) throw Object.assign(new Error(`no device ${device} in the rescue system`), { code: 'DEVICE_NOT_FOUND' });
    if (!path.startsWith('/') || path.split('/').includes('..')) throw Object.assign(new Error(`${path}: not a path inside the partition`), { code: 'PATH_INVALID' });
    const full = resolve(root, `.${path}`);
    if (!existsSync(full)) throw Object.assign(new Error(`${path}: no such file or directory on ${device}`), { code: 'PATH_NOT_FOUND' });
    const real = realpathSync(full);
    if (real !== realpathSync(root) && !real.startsWith(realpathSync(root) + sep)) throw Object.assign(new Error(`${path} leaves the partition`), { code: 'PATH_INVALID' });
    return real;
  }

  async #explorer(job: Job): Promise<unknown> {
    const device = String(job.params.device);
    const path = String(job.params.path ?? '/');
    switch (job.kind) {
      case 'files_list': {
        const dir = this.#resolve(device, path);
        const entries = readdirSync(dir).sort().map((name) => {
          const stat = lstatSync(join(dir, name));
          const type = stat.isSymbolicLink() ? 'symlink' : stat.isDirectory() ? 'directory' : stat.isFile() ? 'file' : 'other';
          return { name, type, size: stat.isFile() ? stat.size : 0, mode: stat.mode.toString(8), mtime: stat.mtime.toISOString(), target: stat.isSymbolicLink() ? readlinkSync(join(dir, name)) : null };
        });
        const root = realpathSync(join(this.#disks, device));
        return { path: dir === root ? '/' : dir.slice(root.length), entries, truncated: false };
      }
      case 'files_read': {
        const file = this.#resolve(device, path);
        const size = lstatSync(file).size;
        const offset = Number(job.params.offset ?? 0);
        const buffer = Buffer.alloc(Math.max(0, Math.min(Number(job.params.length ?? 65_536), size - offset)));
        const fd = openSync(file, 'r');
        try {
          readSync(fd, buffer, 0, buffer.length, offset);
        } finally {
          closeSync(fd);
        }
        return { path, size, offset, data: buffer.toString('base64') };
      }
      case 'files_download': {
        const target = this.#resolve(device, path);
        const directory = lstatSync(target).isDirectory();
        if (directory) {
          const tar = spawn('tar', ['-c', '-C', target, '.'], { stdio: ['ignore', 'pipe', 'ignore'] });
          await this.#upload(job.id, tar.stdout, { 'x-lifeboat-type': 'directory' });
        } else {
          await this.#upload(job.id, createReadStream(target), { 'x-lifeboat-type': 'file', 'x-lifeboat-size': String(lstatSync(target).size) });
        }
        return { path, type: directory ? 'directory' : 'file' };
      }
      case 'journal_read': {
        const journal = join(this.#disks, device, 'var/log/journal.txt');
        if (!existsSync(journal)) throw Object.assign(new Error(`no journal on ${device}`), { code: 'PATH_NOT_FOUND' });
        const lines = readFileSync(journal, 'utf8').split('\n').filter(Boolean);
        const priority = job.params.priority;
        const shown = typeof priority === 'string' ? lines.filter((line) => line.includes(`<${priority}>`)) : lines;
        return { text: `${shown.slice(-Number(job.params.lines ?? 200)).join('\n')}\n` };
      }
      default:
        throw Object.assign(new Error(`unknown work ${job.kind}`), { code: 'BAD_REQUEST' });
    }
  }

  #upload(id: string, body: Readable, headers: Record<string, string>): Promise<void> {
    return new Promise((done, fail) => {
      const req = httpRequest(`${this.#url}/v1/agent/work/${id}/upload`, { method: 'PUT', headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/octet-stream', ...headers } });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 204 ? done() : fail(new Error(`upload answered ${res.statusCode}`))));
      });
      req.on('error', fail);
      body.pipe(req);
    });
  }

  async #call<T = undefined>(method: string, path: string, body?: unknown, authenticated = true): Promise<T> {
    const response = await fetch(`${this.#url}/v1/agent${path}`, {
      method,
      headers: { ...(authenticated && this.#token ? { authorization: `Bearer ${this.#token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: this.#stop.signal,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`agent API ${method} ${path}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

/**
 * The machine behind a test server's BMC: powering it on into rescue starts a played agent of the
 * partitions under `disks` (a machine boots on its own time: the BMC call returns before the agent is
 * up); powering it off stops the agent. `url` is the control plane's, known once it has started.
 */
export class PlayedMachine implements TestMachine {
  poweredOn = false;
  /** The agent of the boot in progress, null while the machine is off. */
  player: RescueAgentPlayer | null = null;
  /** Errors of the played boots (a test asserts there are none). */
  readonly bootFailures: unknown[] = [];
  readonly #url: () => string;
  readonly #disks: string;

  constructor(url: () => string, disks: string) {
    this.#url = url;
    this.#disks = disks;
  }

  async bootRescue(boot: RescueBoot): Promise<void> {
    this.poweredOn = true;
    this.player = new RescueAgentPlayer(this.#url(), this.#disks);
    void this.player.boot(boot.serverId, boot.bootToken).catch((error: unknown) => this.bootFailures.push(error));
  }

  async powerOff(): Promise<void> {
    this.poweredOn = false;
    await this.player?.stop();
    this.player = null;
  }
}
