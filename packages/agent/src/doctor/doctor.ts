/**
 * The rescue doctor in the agent: mounts the installed system read-only in a private place
 * (`/run/lifeboat/doctor/root`, through `rescue-mount --read-only --no-replay` so RAID and LVM are
 * assembled as the customer's helper does), gathers what the checks need, runs them, unmounts (and
 * stops what it assembled), and keeps the report in `/run/lifeboat/doctor/` for `rescue-doctor`.
 * Fixes mount read-write the same way, change the files (copies beside them), sync and unmount.
 * When the customer has the system mounted with `rescue-mount` at /mnt, the doctor reads it there
 * (and fixes it there only if it is mounted read-write). A Windows system (rescue-mount's Windows
 * layout: C: at the root, its EFI system partition beside it) gets the Windows checks, fed with
 * hiberfil.sys's signature, the ESP (without one: the MBR of C:'s disk and Windows Boot Manager's files
 * on its active partition) and chntpw's view of the SAM hive.
 */
import type { DoctorFinding, DoctorFixOutcome, DoctorReport } from '@lifeboat/core/api';
import { LifeboatError } from '@lifeboat/core/errors';
import { parseMountInfo } from '../leave-rescue.js';
import { joinPath } from '../platform.js';
import type { Platform, Stop } from '../platform.js';
import { examine } from './checks.js';
import type { CommandOutput, Examined, FileSystemSuperblock, FixStep, InstalledFiles, RescueFacts } from './checks.js';
import { applySteps, backupStamp, undoChanges } from './fixes.js';
import type { AppliedChange } from './fixes.js';
import { physicalNics } from './nics.js';
import { parseBlkidExport, parseDf } from './parse.js';
import type { BlkidDevice } from './parse.js';
import { reportText } from './report-text.js';
import { bytesOfOd, parseMbr } from './mbr.js';
import { parseChntpwList, windowsBootManager, windowsLayout } from './windows-checks.js';
import type { BiosBootFacts, PartitionBootFiles, WindowsFacts, WindowsLayout } from './windows-checks.js';

/** Where the doctor keeps its state, under the rescue's root. */
export const doctorDir = 'run/lifeboat/doctor';
/** The file `rescue-doctor --rerun` creates to ask the agent for a new run. */
export const rerunRequestFile = `${doctorDir}/rerun-request`;

/** How the doctor runs. */
export interface DoctorOptions {
  readonly platform: Platform;
  /** The rescue system's root (`/` in the image). */
  readonly rootDir: string;
  /** Where `rescue-mount` and `rescue-umount` are (default `/usr/local/sbin`). */
  readonly helpersDir?: string;
  /** The customer's mount point of `rescue-mount` (default `/mnt`). */
  readonly customerTarget?: string;
  readonly log?: { info(message: string): void; error(message: string): void };
  /** The clock (tests). */
  readonly now?: () => Date;
}

/** A mounted installed system and how to let it go. */
interface Mounted {
  readonly root: string;
  readonly device: string;
  /** Where rescue-mount mounted an installed Windows' EFI system partition (outside `root`), or null. */
  readonly esp: string | null;
  readonly release: () => Promise<void>;
}

/** What an applied fix recorded, for its undo. */
interface AppliedRecord {
  readonly finding: DoctorFinding;
  readonly changes: AppliedChange[];
  /** The run whose plan was applied last (a later run that finds the fault again plans a new fix). */
  readonly run: string;
  /** The plan applied first: an undo makes it current again (the files are back as that run saw them). */
  readonly steps: FixStep[];
}

/** Reads files of an installed system mounted at `root` through the platform. */
export function mountedFiles(platform: Platform, root: string): InstalledFiles {
  const at = (p: string): string => joinPath(root, p);
  let links: Promise<ReadonlyMap<string, string>> | null = null;
  return {
    read: async (path) => {
      try {
        return await platform.readText(at(path));
      } catch {
        return null;
      }
    },
    list: async (dir) => {
      try {
        return await platform.readdir(at(dir));
      } catch {
        return [];
      }
    },
    exists: async (path) => {
      if (platform.exists(at(path))) return true;
      // An absolute symlink points into the rescue system from here: follow it inside the installed one.
      const target = await platform.run('readlink', ['--', at(path)]);
      const link = target.stdout.trim();
      return target.status === 0 && link.startsWith('/') && platform.exists(at(link));
    },
    systemdLinks: () => {
      links ??= platform.run('find', [at('/etc/systemd/system'), '-mindepth', '1', '-maxdepth', '2', '-type', 'l', '-printf', '%P\\t%l\\n']).then((r) => {
        const map = new Map<string, string>();
        for (const line of r.stdout.split('\n')) {
          const tab = line.indexOf('\t');
          if (tab > 0) map.set(line.slice(0, tab), line.slice(tab + 1));
        }
        return map;
      });
      return links;
    },
  };
}

/** The rescue doctor of one rescue system. */
export class Doctor {
  readonly #p: Platform;
  readonly #o: Required<Omit<DoctorOptions, 'log'>> & Pick<DoctorOptions, 'log'>;
  /** One run, fix or undo at a time. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: DoctorOptions) {
    this.#p = options.platform;
    this.#o = { helpersDir: '/usr/local/sbin', customerTarget: '/mnt', now: () => new Date(), ...options };
  }

  #at(path: string): string {
    return joinPath(this.#o.rootDir, path);
  }

  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(task, task);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** The last report written, or null. */
  async lastReport(): Promise<DoctorReport | null> {
    try {
      return JSON.parse(await this.#p.readText(this.#at(`${doctorDir}/report.json`))) as DoctorReport;
    } catch {
      return null;
    }
  }

  async #writeReport(report: DoctorReport): Promise<void> {
    await this.#p.mkdir(this.#at(doctorDir), 0o700);
    // Written whole then renamed: rescue-doctor never reads half a report.
    await this.#p.writeText(this.#at(`${doctorDir}/report.json.tmp`), `${JSON.stringify(report)}\n`, 0o600);
    await this.#p.rename(this.#at(`${doctorDir}/report.json.tmp`), this.#at(`${doctorDir}/report.json`));
    await this.#p.writeText(this.#at(`${doctorDir}/report.txt.tmp`), reportText(report), 0o600);
    await this.#p.rename(this.#at(`${doctorDir}/report.txt.tmp`), this.#at(`${doctorDir}/report.txt`));
  }

  /** Takes a `rescue-doctor --rerun` request, if one is waiting. */
  async takeRerunRequest(): Promise<boolean> {
    const path = this.#at(rerunRequestFile);
    if (!this.#p.exists(path)) return false;
    await this.#p.run('rm', ['-f', '--', path]);
    return true;
  }

  /**
   * Runs every check; `onReport` is told the `running` report, then the `done` or `failed` one (it
   * is also kept for rescue-doctor). Never throws for the installed system's faults: they are the report.
   */
  run(onReport: (report: DoctorReport) => Promise<void>, stop?: Stop): Promise<DoctorReport> {
    return this.#exclusive(async () => {
      const started = this.#o.now();
      const running: DoctorReport = { state: 'running', startedAt: started.toISOString(), findings: [] };
      await this.#writeReport(running);
      await onReport(running).catch((error: unknown) => this.#o.log?.error(`doctor: the running report was not taken: ${String(error)}`));
      let report: DoctorReport;
      try {
        const { installedSystem, examined, errors } = await this.#examine(stop);
        await this.#savePlans(started.toISOString(), examined);
        const findings = await this.#withApplied(examined.map((e) => e.finding));
        const finished = this.#o.now();
        report = {
          state: 'done',
          startedAt: started.toISOString(),
          finishedAt: finished.toISOString(),
          durationMs: Math.max(0, finished.getTime() - started.getTime()),
          installedSystem,
          ...(errors.length > 0 ? { error: `some checks could not run: ${errors.join('; ')}`.slice(0, 1024) } : {}),
          findings,
        };
      } catch (error) {
        const finished = this.#o.now();
        report = {
          state: 'failed',
          startedAt: started.toISOString(),
          finishedAt: finished.toISOString(),
          durationMs: Math.max(0, finished.getTime() - started.getTime()),
          error: (error instanceof Error ? error.message : String(error)).slice(0, 1024),
          findings: [],
        };
      }
      await this.#writeReport(report);
      this.#o.log?.info(`doctor: ${report.state}${report.error ? ` (${report.error})` : ''}, ${report.findings.length} finding(s)${report.durationMs !== undefined ? ` in ${report.durationMs} ms` : ''}`);
      await onReport(report).catch((error: unknown) => this.#o.log?.error(`doctor: the report was not taken: ${String(error)}`));
      return report;
    });
  }

  async #examine(stop?: Stop): Promise<{ installedSystem: string; examined: Examined[]; errors: string[] }> {
    const mounted = await this.#mount('ro', stop);
    try {
      const files = mountedFiles(this.#p, mounted.root);
      const windows = await windowsLayout(files);
      const facts = windows ? await this.#windowsFacts(mounted, windows, stop) : await this.#facts(mounted.root, mounted.device, stop);
      const { examined, errors } = await examine(files, facts);
      const type = (await this.#p.run('blkid', ['-c', '/dev/null', '-o', 'value', '-s', 'TYPE', mounted.device])).stdout.trim();
      return { installedSystem: `${mounted.device}${type ? ` (${type})` : ''}`.slice(0, 256), examined, errors };
    } finally {
      await mounted.release();
    }
  }

  /** The findings of applied fixes that the run did not find again stay, marked applied (so they can be undone). */
  async #withApplied(findings: DoctorFinding[]): Promise<DoctorFinding[]> {
    const out = [...findings];
    for (const name of await this.#p.readdir(this.#at(`${doctorDir}/applied`)).catch(() => [] as string[])) {
      const record = await this.#applied(name.replace(/\.json$/, ''));
      if (record && !out.some((f) => f.id === record.finding.id)) out.push(record.finding);
    }
    return out.slice(0, 100);
  }

  async #savePlans(run: string, examined: Examined[]): Promise<void> {
    const plans: Record<string, Examined> = {};
    for (const e of examined) plans[e.finding.id] = e;
    await this.#p.writeText(this.#at(`${doctorDir}/plans.json`), JSON.stringify({ run, plans }), 0o600);
  }

  /** Makes an undone finding's plan current again (its files are as the check saw them): it can be fixed again. */
  async #restorePlan(examined: Examined): Promise<void> {
    let saved: { run: string; plans: Record<string, Examined> } = { run: '', plans: {} };
    try {
      saved = JSON.parse(await this.#p.readText(this.#at(`${doctorDir}/plans.json`))) as typeof saved;
    } catch {
      // no run kept: this plan alone
    }
    saved.plans[examined.finding.id] = examined;
    await this.#p.writeText(this.#at(`${doctorDir}/plans.json`), JSON.stringify(saved), 0o600);
  }

  /** The plan of a finding of the last run, with that run's start. */
  async #plan(id: string): Promise<(Examined & { run: string }) | null> {
    try {
      const saved = JSON.parse(await this.#p.readText(this.#at(`${doctorDir}/plans.json`))) as { run: string; plans: Record<string, Examined> };
      return Object.prototype.hasOwnProperty.call(saved.plans, id) ? { ...(saved.plans[id] as Examined), run: saved.run } : null;
    } catch {
      return null;
    }
  }

  async #applied(id: string): Promise<AppliedRecord | null> {
    try {
      return JSON.parse(await this.#p.readText(this.#at(`${doctorDir}/applied/${id}.json`))) as AppliedRecord;
    } catch {
      return null;
    }
  }

  /** Applies the fix of one finding (`doctor_fix`). */
  fix(findingId: string, passwordHash?: string, stop?: Stop): Promise<DoctorFixOutcome> {
    return this.#exclusive(() =>
      outcomeOf(async () => {
        const applied = await this.#applied(findingId);
        const plan = await this.#plan(findingId);
        // Applied already from this run's plan (or the fault was not found again): nothing more to do.
        if (applied && (!plan || plan.run === applied.run)) return applied.finding;
        if (!plan) throw new LifeboatError('DOCTOR_FINDING_UNKNOWN', `the doctor's last run found no ${findingId}`);
        if (!plan.finding.fix || !plan.steps || plan.steps.length === 0) throw new LifeboatError('DOCTOR_FIX_UNAVAILABLE', `${findingId} has no fix the doctor can apply`);
        if (plan.finding.fix.kind === 'root-password' && !passwordHash) throw new LifeboatError('DOCTOR_FIX_INVALID', 'root-password needs passwordHash');
        const mounted = await this.#mount('rw', stop);
        let changes: AppliedChange[];
        try {
          changes = await applySteps(this.#p, mounted.root, plan.steps, backupStamp(this.#o.now()), passwordHash ? { passwordHash } : {});
          await this.#p.run('sync', []);
        } finally {
          await mounted.release();
        }
        const finding: DoctorFinding = { ...plan.finding, fix: { ...plan.finding.fix, state: 'applied', ...changedFiles([...(applied?.changes ?? []), ...changes]) } };
        await this.#p.mkdir(this.#at(`${doctorDir}/applied`), 0o700);
        const record: AppliedRecord = { finding, changes: [...(applied?.changes ?? []), ...changes], run: plan.run, steps: applied?.steps ?? plan.steps };
        await this.#p.writeText(this.#at(`${doctorDir}/applied/${findingId}.json`), JSON.stringify(record), 0o600);
        await this.#updateReport(finding);
        this.#o.log?.info(`doctor: fix of ${findingId} applied (${changes.map((c) => c.path).join(', ')})`);
        return finding;
      }),
    );
  }

  /** Puts back what the fix of one finding changed (`doctor_undo`). */
  undo(findingId: string, stop?: Stop): Promise<DoctorFixOutcome> {
    return this.#exclusive(() =>
      outcomeOf(async () => {
        const applied = await this.#applied(findingId);
        if (!applied) {
          const plan = await this.#plan(findingId);
          if (!plan) throw new LifeboatError('DOCTOR_FINDING_UNKNOWN', `the doctor knows no ${findingId}`);
          return plan.finding;
        }
        const mounted = await this.#mount('rw', stop);
        try {
          await undoChanges(this.#p, mounted.root, applied.changes);
          await this.#p.run('sync', []);
        } finally {
          await mounted.release();
        }
        await this.#p.run('rm', ['-f', '--', this.#at(`${doctorDir}/applied/${findingId}.json`)]);
        const fix = applied.finding.fix;
        const finding: DoctorFinding = fix ? { ...applied.finding, fix: { kind: fix.kind, description: fix.description, state: 'available' } } : applied.finding;
        await this.#restorePlan({ finding, steps: applied.steps });
        await this.#updateReport(finding);
        this.#o.log?.info(`doctor: fix of ${findingId} undone`);
        return finding;
      }),
    );
  }

  async #updateReport(finding: DoctorFinding): Promise<void> {
    const report = await this.lastReport();
    if (!report) return;
    const findings = report.findings.some((f) => f.id === finding.id) ? report.findings.map((f) => (f.id === finding.id ? finding : f)) : [...report.findings, finding].slice(0, 100);
    await this.#writeReport({ ...report, findings });
  }

  /** The customer's `rescue-mount` of the installed system, if any: its root and whether it is writable. */
  async #customerMount(): Promise<{ root: string; device: string; writable: boolean } | null> {
    if (!this.#p.exists(this.#at('run/lifeboat/rescue/root'))) return null;
    const mountInfo = await this.#p.readText(this.#at('proc/self/mountinfo'));
    const mount = parseMountInfo(mountInfo).find((m) => m.mountPoint === this.#o.customerTarget);
    if (!mount) return null;
    const line = mountInfo.split('\n').find((l) => l.split(' ')[4] === this.#o.customerTarget) ?? '';
    const writable = (line.split(' ')[5] ?? '').split(',').includes('rw');
    return { root: this.#o.customerTarget, device: mount.source, writable };
  }

  /**
   * Whether the customer's `rescue-mount` is under way (its `mounting` file names a live process): the
   * doctor then steps back and reads the customer's mount once it is there.
   */
  async #customerMounting(): Promise<boolean> {
    const pid = Number((await this.#p.readText(this.#at('run/lifeboat/rescue/mounting')).catch(() => '')).trim());
    return Number.isInteger(pid) && pid > 0 && this.#p.kill(pid, 0);
  }

  async #mount(mode: 'ro' | 'rw', stop?: Stop): Promise<Mounted> {
    // The customer's rescue-mount and the doctor never mount the installed system at the same time:
    // the doctor says it is busy (the file rescue-mount waits on), then looks for the customer's
    // mount or mount in progress; seeing one, it steps back and uses the customer's mount.
    const busy = this.#at(`${doctorDir}/busy`);
    const notBusy = async (): Promise<void> => {
      await this.#p.run('rm', ['-f', busy]);
    };
    for (let waited = 0; ; waited++) {
      const theirs = await this.#customerMount();
      if (theirs) {
        if (mode === 'rw' && !theirs.writable) {
          throw new LifeboatError('DOCTOR_SYSTEM_MOUNTED', `the installed system is mounted read-only at ${theirs.root} (rescue-mount --read-only): run rescue-umount first, or rescue-mount without --read-only`);
        }
        return { root: theirs.root, device: theirs.device, esp: await this.#espOf(this.#at('run/lifeboat/rescue'), theirs.root), release: async () => undefined };
      }
      await this.#p.mkdir(this.#at(doctorDir), 0o700);
      await this.#p.writeText(busy, `${this.#p.pid()}\n`, 0o600);
      if (!(await this.#customerMounting())) break;
      await notBusy();
      if (waited >= 300) throw new LifeboatError('DOCTOR_MOUNT_FAILED', "the customer's rescue-mount did not finish within 5 min");
      await this.#p.sleep(1000, stop);
    }
    const target = this.#at(`${doctorDir}/root`);
    const state = this.#at(`${doctorDir}/mount-state`);
    // A Windows system's EFI system partition goes beside the root, in the doctor's place too (not at /efi).
    const env = ['env', `RESCUE_TARGET=${target}`, `RESCUE_STATE=${state}`, `RESCUE_ESP=${this.#at(`${doctorDir}/esp`)}`];
    const umount = async (): Promise<void> => {
      const result = await this.#p.run(env[0] as string, [...env.slice(1), joinPath(this.#o.helpersDir, 'rescue-umount')]);
      if (result.status !== 0) this.#o.log?.error(`doctor: rescue-umount: ${result.stderr.trim().split('\n').slice(-2).join(' / ')}`);
      await notBusy();
    };
    try {
      return await this.#mountOwn(mode, target, state, env, umount, stop);
    } catch (error) {
      await notBusy();
      throw error;
    }
  }

  /** The doctor's own mount of the installed system at `target` (busy already said). */
  async #mountOwn(mode: 'ro' | 'rw', target: string, state: string, env: string[], umount: () => Promise<void>, stop?: Stop): Promise<Mounted> {
    await this.#p.mkdir(target, 0o700);
    let result = await this.#p.run(env[0] as string, [...env.slice(1), joinPath(this.#o.helpersDir, 'rescue-mount'), ...(mode === 'ro' ? ['--read-only', '--no-replay'] : [])], stop ? { stop } : {});
    if (result.status === 5) {
      // Left mounted by an agent that died mid-run: release it, then mount again.
      await umount();
      result = await this.#p.run(env[0] as string, [...env.slice(1), joinPath(this.#o.helpersDir, 'rescue-mount'), ...(mode === 'ro' ? ['--read-only', '--no-replay'] : [])], stop ? { stop } : {});
    }
    // 4: some fstab entries could not be mounted (a dead fstab line): the root is there, that is a finding.
    if (result.status !== 0 && result.status !== 4) {
      await umount();
      const detail = result.stderr.trim().split('\n').filter((l) => !/warning/.test(l)).slice(-1)[0] ?? `status ${result.status}`;
      throw new LifeboatError(result.status === 3 ? 'DOCTOR_NO_INSTALLED_SYSTEM' : 'DOCTOR_MOUNT_FAILED', detail.replace(/^rescue-mount: /, ''));
    }
    const device = (await this.#p.readText(joinPath(state, 'root')).catch(() => '')).trim();
    return { root: target, device, esp: await this.#espOf(state, target), release: umount };
  }

  /**
   * The EFI system partition rescue-mount (state in `state`) mounted for a Windows at `root`: the one
   * mount it recorded outside the root (paths in the record are the rescue system's), or null.
   */
  async #espOf(state: string, root: string): Promise<string | null> {
    const recorded = (await this.#p.readText(joinPath(state, 'mounts')).catch(() => '')).split('\n').filter((l) => l !== '');
    return recorded.find((m) => m !== root && !m.startsWith(`${root}/`)) ?? null;
  }

  /** What the Windows checks read beyond C:'s files: hiberfil.sys's signature, the ESP, the SAM's accounts (chntpw). */
  async #windowsFacts(mounted: Mounted, layout: WindowsLayout, stop?: Stop): Promise<RescueFacts> {
    const p = this.#p;
    const opts = stop ? { stop } : {};
    let hiberfileSignature: string | null = null;
    if (layout.hiberfile !== null) {
      // Its first bytes only: a real hiberfil.sys is as large as the memory.
      const head = await p.run('head', ['-c', '4', '--', joinPath(mounted.root, layout.hiberfile)], opts);
      if (head.status === 0) hiberfileSignature = head.stdout;
    }
    let esp: WindowsFacts['esp'] = null;
    if (mounted.esp !== null) {
      const device = (await p.run('findmnt', ['-n', '-o', 'SOURCE', '--mountpoint', mounted.esp], opts)).stdout.trim();
      esp = { device: device || mounted.esp, files: mountedFiles(p, mounted.esp) };
    }
    const windows: WindowsFacts = {
      hiberfileSignature,
      esp,
      accounts: layout.sam === null ? null : await this.#windowsAccounts(joinPath(mounted.root, layout.sam), layout.sam, opts),
      bios: esp === null ? await this.#biosBoot(mounted, opts) : null,
    };
    return { blkid: [], deviceExists: () => false, nics: [], mdstat: null, df: [], sshdTest: null, journal: null, windows };
  }

  /**
   * A BIOS install: the MBR of the disk holding C: (found in sysfs: `/sys/block/DISK/NAME/partition`)
   * and Windows Boot Manager's files on its active NTFS partition, and on its other NTFS partitions
   * when that one does not start Windows. Null when C: is no partition of an MBR disk.
   */
  async #biosBoot(mounted: Mounted, opts: { stop?: Stop }): Promise<BiosBootFacts | null> {
    const p = this.#p;
    const sys = this.#at('sys/block');
    const name = mounted.device.slice(mounted.device.lastIndexOf('/') + 1);
    const numberOf = async (disk: string, child: string): Promise<number> => {
      const n = Number((await p.readText(joinPath(sys, disk, child, 'partition')).catch(() => '')).trim());
      return Number.isInteger(n) && n > 0 ? n : 0;
    };
    let disk = '';
    let windowsPartition = 0;
    for (const d of await p.readdir(sys).catch(() => [] as string[])) {
      windowsPartition = name === '' ? 0 : await numberOf(d, name);
      if (windowsPartition > 0) {
        disk = d;
        break;
      }
    }
    if (disk === '') return null;
    const command = `od -An -v -tx1 -N512 /dev/${disk}`;
    const read = await p.run('od', ['-An', '-v', '-tx1', '-N512', '--', this.#at(`dev/${disk}`)], opts);
    const bytes = read.status === 0 ? bytesOfOd(read.stdout) : null;
    const mbr = bytes === null ? null : parseMbr(bytes);
    if (mbr === null || mbr.scheme !== 'dos') return null;
    const children = new Map<number, string>();
    for (const child of await p.readdir(joinPath(sys, disk)).catch(() => [] as string[])) {
      const n = await numberOf(disk, child);
      if (n > 0) children.set(n, child);
    }
    const readPartition = async (n: number): Promise<PartitionBootFiles> => {
      const child = children.get(n);
      const device = child === undefined ? `/dev/${disk} partition ${n}` : `/dev/${child}`;
      if (n === windowsPartition) return { number: n, device: mounted.device, ...(await windowsBootManager(mountedFiles(p, mounted.root))) };
      if (child === undefined) return { number: n, device, bootmgr: null, bcd: null, error: 'no device' };
      return { number: n, device, ...(await this.#readBootPartition(child, opts)) };
    };
    const ntfs = mbr.partitions.filter((q) => q.type === 0x07);
    const bootFiles: PartitionBootFiles[] = [];
    const active = mbr.partitions.filter((q) => q.active);
    const first = active.length === 1 && active[0]?.type === 0x07 ? await readPartition(active[0].number) : null;
    if (first) bootFiles.push(first);
    if (!first || first.error !== undefined || first.bootmgr === null || first.bcd === null) {
      for (const q of ntfs.filter((x) => x.number !== first?.number)) bootFiles.push(await readPartition(q.number));
    }
    return { disk: `/dev/${disk}`, windowsPartition, command, mbr, bootFiles };
  }

  /**
   * `bootmgr` and `Boot/BCD` on the NTFS partition `/dev/NAME`: read where it is mounted already, else
   * through a read-only ntfs-3g mount of the doctor's own (nothing is written), unmounted at once.
   */
  async #readBootPartition(name: string, opts: { stop?: Stop }): Promise<Omit<PartitionBootFiles, 'number' | 'device'>> {
    const p = this.#p;
    const device = this.#at(`dev/${name}`);
    const there = (await p.run('findmnt', ['-n', '-o', 'TARGET', '--first-only', '--source', device], opts)).stdout.trim();
    if (there !== '') return windowsBootManager(mountedFiles(p, there));
    const target = this.#at(`${doctorDir}/boot-partition`);
    await p.mkdir(target, 0o700);
    // Left mounted by an agent that died mid-run: let it go first.
    if ((await p.run('findmnt', ['-n', '--mountpoint', target], opts)).status === 0) await p.run('umount', [target]);
    const mount = await p.run('ntfs-3g', ['-o', 'ro', device, target], opts);
    if (mount.status !== 0) return { bootmgr: null, bcd: null, error: mount.stderr.trim().split('\n').slice(-1)[0] || `ntfs-3g: status ${mount.status}` };
    try {
      return await windowsBootManager(mountedFiles(p, target));
    } finally {
      const umount = await p.run('umount', [target]);
      if (umount.status !== 0) this.#o.log?.error(`doctor: umount ${target}: ${umount.stderr.trim()}`);
    }
  }

  /**
   * `chntpw -l` of the SAM hive at `sam` (`shownAs` in the evidence), and `chntpw -u` of each account it
   * marks dis/lock; null when chntpw is not in this rescue system (it is in the windows image only).
   * chntpw reads a copy in the doctor's directory (tmpfs, removed at once): the hive on C: is never
   * opened for writing, whether C: is the doctor's read-only mount or the customer's read-write one.
   */
  async #windowsAccounts(sam: string, shownAs: string, opts: { stop?: Stop }): Promise<WindowsFacts['accounts']> {
    const p = this.#p;
    if ((await p.run('sh', ['-c', 'command -v chntpw'], opts).catch(() => null))?.status !== 0) return null;
    const copy = this.#at(`${doctorDir}/sam-copy`);
    try {
      if ((await p.run('cp', ['--', sam, copy], opts)).status !== 0) return null;
      const list = await p.run('chntpw', ['-l', copy], opts);
      const listed: CommandOutput = { command: `chntpw -l ${shownAs}`, status: list.status, output: list.stdout };
      const users: Record<string, CommandOutput> = {};
      for (const row of parseChntpwList(list.stdout).filter((r) => r.disabledOrLocked).slice(0, 50)) {
        // q leaves the account's menu; nothing changed, chntpw writes nothing.
        const user = await p.run('chntpw', ['-u', `0x${row.rid}`, copy], { ...opts, stdin: 'q\n' });
        users[row.rid] = { command: `chntpw -u 0x${row.rid} ${shownAs}`, status: user.status, output: user.stdout };
      }
      return { list: listed, users };
    } finally {
      await p.run('rm', ['-f', '--', copy]);
    }
  }

  async #facts(root: string, rootDevice: string, stop?: Stop): Promise<RescueFacts> {
    const p = this.#p;
    const opts = stop ? { stop } : {};
    const blkid = parseBlkidExport((await p.run('blkid', ['-c', '/dev/null', '-o', 'export'], opts)).stdout);
    const nics = await physicalNics(p, this.#at('sys'));
    const mdstat = await p.readText(this.#at('proc/mdstat')).catch(() => null);
    const at = (path: string): string => joinPath(root, path);
    const dfTargets = [root, ...(p.exists(at('/boot')) ? [at('/boot')] : [])];
    const dfResult = await p.run('df', ['-B1', '--output=target,size,used,avail,itotal,iused,iavail', '--', ...dfTargets], opts);
    const df = parseDf(dfResult.stdout)
      .filter((e) => e.target === root || e.target.startsWith(`${root}/`))
      .map((e) => ({ ...e, target: e.target === root ? '/' : e.target.slice(root.length) }));
    return {
      blkid,
      deviceExists: (path) => p.exists(path),
      nics,
      mdstat,
      df,
      sshdTest: await this.#sshdTest(root, opts),
      journal: await this.#journal(root, opts),
      superblocks: await this.#superblocks(root, rootDevice, blkid, opts),
    };
  }

  /** `dumpe2fs -h` of the ext2/3/4 `/` and `/boot` of the installed system mounted at `root` (read-only: the superblock). */
  async #superblocks(root: string, rootDevice: string, blkid: readonly BlkidDevice[], opts: { stop?: Stop }): Promise<FileSystemSuperblock[]> {
    const p = this.#p;
    const boot = (await p.run('findmnt', ['-n', '-o', 'SOURCE', '--mountpoint', joinPath(root, '/boot')], opts)).stdout.trim();
    const out: FileSystemSuperblock[] = [];
    for (const [target, device] of [['/', rootDevice], ['/boot', boot]] as const) {
      if (!device.startsWith('/dev/')) continue;
      const type = blkid.find((d) => d.devname === device)?.tags.TYPE ?? (await p.run('blkid', ['-c', '/dev/null', '-o', 'value', '-s', 'TYPE', device], opts)).stdout.trim();
      if (!/^ext[234]$/.test(type)) continue;
      const result = await p.run('dumpe2fs', ['-h', device], opts);
      out.push({ target, device, output: { command: `dumpe2fs -h ${device}`, status: result.status, output: result.stdout } });
    }
    return out;
  }

  /**
   * `sshd -t` of the installed system, in a chroot of the mount: /dev bound and a tmpfs on /run (for
   * /run/sshd) so nothing is written to the disk. Without host keys (the lab's systems make theirs at
   * the first boot) a throw-away key is given with `-h`: their absence is not a fault.
   */
  async #sshdTest(root: string, opts: { stop?: Stop }): Promise<CommandOutput | null> {
    const p = this.#p;
    const at = (path: string): string => joinPath(root, path);
    if (!p.exists(at('/usr/sbin/sshd')) || !p.exists(at('/etc/ssh/sshd_config'))) return null;
    const mounted: string[] = [];
    try {
      if ((await p.run('mount', ['-t', 'tmpfs', '-o', 'mode=0755,size=4m', 'lifeboat-doctor', at('/run')])).status === 0) mounted.push(at('/run'));
      if ((await p.run('mount', ['--bind', '/dev', at('/dev')])).status === 0) mounted.push(at('/dev'));
      await p.run('mkdir', ['-p', '-m', '0755', at('/run/sshd')]);
      const keys = (await p.readdir(at('/etc/ssh')).catch(() => [] as string[])).filter((n) => /^ssh_host_.*_key$/.test(n));
      const args = ['-t', '-f', '/etc/ssh/sshd_config'];
      if (keys.length === 0 && mounted.includes(at('/run'))) {
        await p.run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', at('/run/lifeboat-doctor-host-key')]);
        args.push('-h', '/run/lifeboat-doctor-host-key');
      }
      const result = await p.run('chroot', [root, '/usr/sbin/sshd', ...args], opts);
      const output = `${result.stderr}${result.stdout}`
        .split('\n')
        .filter((l) => !/Unable to load host key|lifeboat-doctor-host-key/.test(l))
        .join('\n');
      return { command: 'sshd -t -f /etc/ssh/sshd_config', status: result.status, output };
    } finally {
      for (const point of mounted.reverse()) {
        if ((await p.run('umount', [point])).status !== 0) await p.run('umount', ['-l', point]);
      }
    }
  }

  /** The last boot's errors in the installed system's persistent journal (`-b 0` of a journal read offline is its last boot). */
  async #journal(root: string, opts: { stop?: Stop }): Promise<CommandOutput | null> {
    const dir = joinPath(root, '/var/log/journal');
    const entries = await this.#p.readdir(dir).catch(() => [] as string[]);
    if (entries.length === 0) return null;
    const result = await this.#p.run('journalctl', ['--directory', dir, '-b', '0', '-p', 'err', '--no-pager', '-o', 'short', '-q'], opts).catch(() => null);
    if (result === null || result.status !== 0) return null;
    return { command: 'journalctl --directory /var/log/journal -b 0 -p err --no-pager -o short', status: 0, output: result.stdout };
  }
}

/**
 * The files a fix changed, and the copy kept of each (its first copy: the file as it was before the
 * fix), in the same order; `''` for a link the fix created, which has no copy.
 */
export function changedFiles(changes: readonly AppliedChange[]): { changedFiles: string[]; backups: string[] } {
  const firstCopy = new Map<string, string>();
  for (const change of changes) if (!firstCopy.has(change.path)) firstCopy.set(change.path, change.backup ?? '');
  const files = [...firstCopy.keys()].slice(0, 20);
  return { changedFiles: files, backups: files.map((f) => firstCopy.get(f) ?? '') };
}

/** A fix's or undo's outcome: the finding, or the error's code and message. */
async function outcomeOf(task: () => Promise<DoctorFinding>): Promise<DoctorFixOutcome> {
  try {
    return { ok: true, finding: await task() };
  } catch (error) {
    const code = error instanceof LifeboatError ? error.code : 'DOCTOR_FIX_FAILED';
    return { ok: false, error: { code: code.slice(0, 64), message: (error instanceof Error ? error.message : String(error)).slice(0, 1024) } };
  }
}
