/**
 * The rescue doctor's checks (issue 15): each reads the installed system's files (through
 * {@link InstalledFiles}) and what the rescue system observed ({@link RescueFacts}), and yields
 * findings with their evidence and, where the contract has one, the plan of its fix. No I/O of its
 * own beyond reading: tested against directory trees made by the tests.
 */
import type { DoctorEvidence, DoctorFinding, DoctorFixKind } from '@lifeboat/core/api';
import type { Nic } from './nics.js';
import {
  authorizedKeyCount, extlinuxDefault, globToRegExp, grubDefault, hasTag, ifupdownNames, iptablesVerdict, isNetworkFileSystem, netplanNames,
  networkdNames, nftablesVerdict, parseFstab, parseSshdTest, passwordLocked, pseudoFileSystems, shadowEntry, specTag, sshdInclude,
  sshdSettings, summariseJournal, ufwVerdict,
} from './parse.js';
import type { BlkidDevice, BootEntry, ConfigLine, DfEntry, FirewallVerdict, NamedInterface } from './parse.js';
import { parseMdstat } from '../hardware-tests/partitions.js';
import { examineWindows, windowsLayout } from './windows-checks.js';
import type { WindowsFacts } from './windows-checks.js';

/** The installed system's files, by the path they have when it runs (`/etc/fstab`). */
export interface InstalledFiles {
  /** A file's text, or null when it is missing or not readable. */
  read(path: string): Promise<string | null>;
  /** A directory's entries (empty when missing). */
  list(dir: string): Promise<string[]>;
  /** Whether a path exists (symlinks inside the installed system followed within it where possible). */
  exists(path: string): Promise<boolean>;
  /** The symbolic links under /etc/systemd/system (two levels): `multi-user.target.wants/ssh.service` → its target. */
  systemdLinks(): Promise<ReadonlyMap<string, string>>;
}

/** The output of a command the doctor ran, as evidence. */
export interface CommandOutput {
  readonly command: string;
  readonly status: number;
  readonly output: string;
}

/** What the rescue system saw. */
export interface RescueFacts {
  /** `blkid -o export` of every block device, after RAID assembly and LVM activation. */
  readonly blkid: readonly BlkidDevice[];
  /** Whether `/dev/...` names a device in the rescue system. */
  readonly deviceExists: (path: string) => boolean;
  readonly nics: readonly Nic[];
  /** /proc/mdstat, or null without md. */
  readonly mdstat: string | null;
  /** df of the installed system's `/` and `/boot` (targets as the installed system sees them). */
  readonly df: readonly DfEntry[];
  /** `sshd -t` of the installed system, or null when it could not run (no sshd). */
  readonly sshdTest: CommandOutput | null;
  /** journalctl of the last boot's errors, or null (no persistent journal). */
  readonly journal: CommandOutput | null;
  /** `dumpe2fs -h` of the installed system's ext2/3/4 `/` and `/boot` (absent: not ext, or not read). */
  readonly superblocks?: readonly FileSystemSuperblock[];
  /** What was read of an installed Windows (absent: not Windows, or not read). */
  readonly windows?: WindowsFacts;
}

/** The superblock of one of the installed system's file systems, as `dumpe2fs -h DEVICE` printed it. */
export interface FileSystemSuperblock {
  /** `/` or `/boot`. */
  readonly target: string;
  readonly device: string;
  readonly output: CommandOutput;
}

/** One change a fix makes. */
export type FixStep =
  | { readonly op: 'edit'; readonly path: string; readonly digest: string; readonly edit: EditSpec }
  | { readonly op: 'unlink'; readonly path: string; readonly target: string }
  | { readonly op: 'symlink'; readonly path: string; readonly target: string };

/** How a file's text changes. */
export type EditSpec =
  | { readonly kind: 'add-option'; readonly line: number; readonly option: string }
  | { readonly kind: 'comment-lines'; readonly lines: number[] }
  | { readonly kind: 'rename-interface'; readonly lines: number[]; readonly from: string; readonly to: string }
  | { readonly kind: 'set-key'; readonly key: string; readonly value: string }
  | { readonly kind: 'root-password' };

/** A finding with the plan of its fix (kept by the agent, never sent). */
export interface Examined {
  readonly finding: DoctorFinding;
  readonly steps?: FixStep[];
}

/** A short, stable digest of a file's text (FNV-1a 32-bit and the length): tells "changed since the check". */
export function digestOf(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `${text.length}-${h.toString(16).padStart(8, '0')}`;
}

/** An id's slug from a path or name (`/var/lib` → `var-lib`, `/` → `root`). */
export function slug(text: string): string {
  const s = text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return (s === '' ? 'root' : s).slice(0, 60);
}

const MiB = 1024 * 1024;
/** A file system is full from here (percent of blocks or inodes used, as df counts them). */
export const fullPercent = 98;
/** ... or with less than this free for ordinary users. */
export const fullFreeBytes = 32 * MiB;

/** A finding, its texts cut to the contract's limits. */
export function finding(
  id: string,
  check: DoctorFinding['check'],
  severity: DoctorFinding['severity'],
  summary: string,
  evidence: DoctorEvidence[],
  fix?: { kind: DoctorFixKind; description: string },
): DoctorFinding {
  return {
    id: id.slice(0, 80),
    check,
    severity,
    summary: summary.slice(0, 1024),
    evidence: evidence.slice(0, 50).map((e) => ({ ...e, text: e.text.slice(0, 8192) })),
    ...(fix ? { fix: { kind: fix.kind, description: fix.description.slice(0, 1024), state: 'available' as const } } : {}),
  };
}

/**
 * Runs every check; a check that throws becomes no finding (the others still run) and is returned in
 * `errors`. An installed Windows gets the Windows checks only: the Linux ones have nothing to read on
 * C: (and df's figures of an NTFS volume are not a Linux boot's concern).
 */
export async function examine(files: InstalledFiles, facts: RescueFacts): Promise<{ examined: Examined[]; errors: string[] }> {
  const windows = await windowsLayout(files);
  if (windows !== null) return examineWindows(windows, facts.windows);
  return runChecks([
    ['fstab', () => checkFstab(files, facts)],
    ['filesystem-full', async () => checkFull(facts)],
    ['filesystem-errors', async () => checkFileSystemErrors(facts)],
    ['sshd', () => checkSshd(files, facts)],
    ['firewall', () => checkFirewall(files)],
    ['network-interface', () => checkNetwork(files, facts)],
    ['boot-entry', () => checkBootEntry(files)],
    ['raid', async () => checkRaid(facts)],
    ['root-login', () => checkRootLogin(files)],
    ['journal', async () => checkJournal(facts)],
  ]);
}

/** Runs named checks in order; one that throws becomes no finding (the others still run) and is returned in `errors`. */
export async function runChecks(checks: Array<[name: string, check: () => Promise<Examined[]>]>): Promise<{ examined: Examined[]; errors: string[] }> {
  const examined: Examined[] = [];
  const errors: string[] = [];
  for (const [name, check] of checks) {
    try {
      examined.push(...(await check()));
    } catch (error) {
      errors.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { examined: examined.slice(0, 100), errors };
}

/** fstab lines whose device is missing and that lack `nofail` (swap, noauto, network and pseudo file systems aside). */
export async function checkFstab(files: InstalledFiles, facts: RescueFacts): Promise<Examined[]> {
  const text = await files.read('/etc/fstab');
  if (text === null) return [];
  const out: Examined[] = [];
  for (const entry of parseFstab(text)) {
    if (entry.type === 'swap' || entry.file === 'none' || entry.file === 'swap') continue;
    if (pseudoFileSystems.has(entry.type) || isNetworkFileSystem(entry.type)) continue;
    if (entry.options.some((o) => o === 'noauto' || o === 'nofail' || o === 'bind' || o === 'rbind' || o === '_netdev')) continue;
    const tag = specTag(entry.spec);
    let present: boolean;
    if (tag) present = hasTag(facts.blkid, tag.key, tag.value);
    else if (entry.spec.startsWith('/dev/')) present = facts.deviceExists(entry.spec) || facts.blkid.some((d) => d.devname === entry.spec);
    else continue;
    if (present) continue;
    const point = entry.file === '/' ? 'root' : slug(entry.file);
    out.push({
      finding: finding(
        `fstab-${point}`,
        'fstab',
        'critical',
        `/etc/fstab mounts ${entry.file} from ${entry.spec}, which no disk of this server has, without nofail: the boot waits for it and stops in emergency mode, without SSH.`,
        [{ file: '/etc/fstab', line: entry.line, text: entry.text }],
        entry.file === '/'
          ? undefined
          : { kind: 'fstab-nofail', description: `Add nofail to line ${entry.line} of /etc/fstab: the boot goes on without ${entry.file} (its contents stay on the missing disk).` },
      ),
      ...(entry.file === '/' ? {} : { steps: [{ op: 'edit', path: '/etc/fstab', digest: digestOf(text), edit: { kind: 'add-option', line: entry.line, option: 'nofail' } }] }),
    });
  }
  return out;
}

/** The root and /boot file systems nearly full, in blocks or in inodes. */
export function checkFull(facts: Pick<RescueFacts, 'df'>): Examined[] {
  const out: Examined[] = [];
  const seen = new Set<string>();
  for (const fs of facts.df) {
    if (seen.has(fs.target) || (fs.target !== '/' && fs.target !== '/boot')) continue;
    seen.add(fs.target);
    const usable = fs.usedBytes + fs.availBytes;
    const percent = usable > 0 ? Math.ceil((fs.usedBytes * 100) / usable) : 0;
    const inodePercent = fs.inodes > 0 ? Math.ceil((fs.inodesUsed * 100) / fs.inodes) : 0;
    const name = fs.target === '/' ? 'root' : 'boot';
    const evidence = {
      command: `df -B1 --output=target,size,used,avail,itotal,iused,iavail ${fs.target}`,
      text: `${fs.target}: ${fs.usedBytes} bytes used, ${fs.availBytes} free (${percent}%); ${fs.inodesUsed} inodes used, ${fs.inodesFree} free (${inodePercent}%)`,
    };
    if (percent >= fullPercent || fs.availBytes < fullFreeBytes) {
      out.push({
        finding: finding(
          `filesystem-full-${name}`,
          'filesystem-full',
          'critical',
          `The ${fs.target} file system is full (${percent}% used, ${Math.floor(fs.availBytes / MiB)} MiB free): services that write at boot (the journal, sshd's runtime files, package scripts) fail. Free space with rescue-mount and rm, or grow the file system.`,
          [evidence],
        ),
      });
    }
    if (fs.inodes > 0 && (inodePercent >= fullPercent || fs.inodesFree < 1000)) {
      out.push({
        finding: finding(
          `filesystem-inodes-${name}`,
          'filesystem-full',
          'critical',
          `The ${fs.target} file system has no inodes left (${inodePercent}% used): no new file can be created. Remove many small files (caches, sessions, mail queues).`,
          [evidence],
        ),
      });
    }
  }
  return out;
}

/**
 * An ext2/3/4 `/` or `/boot` whose superblock says it has errors ("Filesystem state: clean with
 * errors", or an error count): the boot's preen check (`fsck -a`) gives up on it and the boot stops in
 * emergency mode. The repair (`rescue-fsck DEVICE --repair`, e2fsck -fy) needs the file system
 * unmounted and may move files to lost+found: no one-step fix.
 */
export function checkFileSystemErrors(facts: Pick<RescueFacts, 'superblocks'>): Examined[] {
  const out: Examined[] = [];
  for (const sb of facts.superblocks ?? []) {
    if (sb.output.status !== 0) continue;
    const lines = sb.output.output.split('\n');
    const state = lines.find((l) => /^Filesystem state:/.test(l));
    const count = lines.find((l) => /^FS Error count:/.test(l));
    const errorCount = Number(/(\d+)\s*$/.exec(count ?? '')?.[1] ?? '0');
    if (!/error/i.test(state ?? '') && errorCount === 0) continue;
    const name = sb.target === '/' ? 'root' : slug(sb.target);
    const detail = lines.filter((l) => /^(Filesystem state|FS Error count|First error|Last error)/.test(l)).join('\n');
    out.push({
      finding: finding(
        `filesystem-errors-${name}`,
        'filesystem-errors',
        'critical',
        `The ${sb.target} file system (${sb.device}) is marked as having errors: the boot's file system check (fsck -a) gives up and stops in emergency mode, without SSH. Repair it with nothing mounted: rescue-umount, then rescue-fsck ${sb.device} --repair.`,
        [{ command: sb.output.command, text: detail }],
      ),
    });
  }
  return out;
}

/** sshd's configuration lines in reading order, `Include`s expanded (depth-limited). */
export async function sshdConfigLines(files: InstalledFiles, path = '/etc/ssh/sshd_config', depth = 0): Promise<ConfigLine[]> {
  const text = await files.read(path);
  if (text === null || depth > 4) return [];
  const lines: ConfigLine[] = [];
  const raw = text.split('\n');
  for (let i = 0; i < raw.length; i++) {
    const include = sshdInclude(raw[i] as string);
    if (include) {
      for (const pattern of include) for (const file of await expandGlob(files, pattern)) lines.push(...(await sshdConfigLines(files, file, depth + 1)));
      continue;
    }
    lines.push({ file: path, line: i + 1, text: raw[i] as string });
  }
  return lines;
}

/** Files matching a glob in its last path segment, sorted (as sshd and nft expand them). */
export async function expandGlob(files: InstalledFiles, pattern: string): Promise<string[]> {
  const slash = pattern.lastIndexOf('/');
  const dir = pattern.slice(0, slash) || '/';
  const base = pattern.slice(slash + 1);
  if (!/[*?[]/.test(base)) return (await files.read(pattern)) === null ? [] : [pattern];
  const re = globToRegExp(base);
  return (await files.list(dir)).filter((n) => re.test(n)).sort().map((n) => `${dir}/${n}`);
}

const sshUnits = ['ssh.service', 'sshd.service', 'ssh.socket'];

/** `sshd -t` failing, or ssh masked or not enabled. */
export async function checkSshd(files: InstalledFiles, facts: Pick<RescueFacts, 'sshdTest'>): Promise<Examined[]> {
  if ((await files.read('/etc/ssh/sshd_config')) === null && !(await files.exists('/usr/sbin/sshd'))) return [];
  const out: Examined[] = [];
  const test = facts.sshdTest;
  if (test && test.status !== 0) {
    const complaints = parseSshdTest(test.output);
    const byFile = new Map<string, number[]>();
    for (const c of complaints) byFile.set(c.file, [...(byFile.get(c.file) ?? []), c.line]);
    const steps: FixStep[] = [];
    const evidence: DoctorEvidence[] = [{ command: test.command, text: test.output.trim() || `exit status ${test.status}` }];
    for (const [file, lines] of byFile) {
      const text = await files.read(file);
      if (text === null) continue;
      const all = text.split('\n');
      for (const line of lines) evidence.push({ file, line, text: all[line - 1] ?? '' });
      steps.push({ op: 'edit', path: file, digest: digestOf(text), edit: { kind: 'comment-lines', lines: [...new Set(lines)].sort((a, b) => a - b) } });
    }
    const where = complaints.map((c) => `${c.file} line ${c.line}`).join(', ');
    out.push({
      finding: finding(
        'sshd-config',
        'sshd',
        'critical',
        `sshd of the installed system rejects its configuration${where ? ` (${where})` : ''}: ssh.service does not start and SSH never answers.`,
        evidence,
        steps.length > 0 ? { kind: 'sshd-config', description: `Comment out the rejected line(s): ${where}.` } : undefined,
      ),
      ...(steps.length > 0 ? { steps } : {}),
    });
  }
  const links = await files.systemdLinks();
  const masked = [...links].filter(([path, target]) => sshUnits.includes(path) && target === '/dev/null');
  const enabled = [...links].some(([path]) => /\.wants\/(ssh\.service|sshd\.service|ssh\.socket)$/.test(path));
  if (masked.length > 0 || !enabled) {
    const unit = (await files.exists('/lib/systemd/system/ssh.service')) ? '/lib/systemd/system/ssh.service' : (await files.exists('/usr/lib/systemd/system/ssh.service')) ? '/usr/lib/systemd/system/ssh.service' : null;
    if (unit === null) return out;
    const steps: FixStep[] = masked.map(([path, target]) => ({ op: 'unlink' as const, path: `/etc/systemd/system/${path}`, target }));
    if (!enabled) steps.push({ op: 'symlink', path: '/etc/systemd/system/multi-user.target.wants/ssh.service', target: unit });
    const evidence: DoctorEvidence[] = masked.map(([path]) => ({ file: `/etc/systemd/system/${path}`, text: `${path} -> /dev/null (masked)` }));
    if (!enabled) evidence.push({ file: '/etc/systemd/system/multi-user.target.wants', text: 'no ssh.service, sshd.service or ssh.socket link: ssh is not enabled' });
    out.push({
      finding: finding(
        'sshd-disabled',
        'sshd',
        'critical',
        `ssh is ${masked.length > 0 ? 'masked' : 'not enabled'} in the installed system: sshd does not start at boot.`,
        evidence,
        { kind: 'sshd-config', description: `${masked.length > 0 ? 'Unmask ssh.service' : ''}${masked.length > 0 && !enabled ? ' and enable' : enabled ? '' : 'Enable'} it for multi-user.target.`.trim() },
      ),
      steps,
    });
  }
  return out;
}

/** Which services are enabled: a `*.wants/UNIT` link under /etc/systemd/system. */
function enabledLinks(links: ReadonlyMap<string, string>, unit: string): Array<[string, string]> {
  return [...links].filter(([path]) => path.endsWith(`.wants/${unit}`));
}

/** nftables rulesets with their includes expanded. */
async function nftLines(files: InstalledFiles, path: string, depth = 0): Promise<ConfigLine[]> {
  const text = await files.read(path);
  if (text === null || depth > 4) return [];
  const lines: ConfigLine[] = [];
  const raw = text.split('\n');
  for (let i = 0; i < raw.length; i++) {
    const include = /^\s*include\s+"([^"]+)"/.exec(raw[i] as string);
    if (include) {
      const target = (include[1] as string).startsWith('/') ? (include[1] as string) : `/etc/${include[1]}`;
      for (const file of await expandGlob(files, target)) lines.push(...(await nftLines(files, file, depth + 1)));
      continue;
    }
    lines.push({ file: path, line: i + 1, text: raw[i] as string });
  }
  return lines;
}

/** Saved firewall configurations that drop or reject SSH (nftables, iptables-persistent, ufw), with their service enabled. */
export async function checkFirewall(files: InstalledFiles): Promise<Examined[]> {
  const ports = sshdSettings(await sshdConfigLines(files)).ports;
  const links = await files.systemdLinks();
  const out: Examined[] = [];
  const blockedPort = (verdict: (port: number) => FirewallVerdict): { port: number; verdict: FirewallVerdict } | null => {
    for (const port of ports) {
      const v = verdict(port);
      if (!v.blocked) return null;
      if (ports.length === 1 || port === ports.at(-1)) return { port, verdict: v };
    }
    return null;
  };
  const report = (id: string, what: string, service: string, hit: { port: number; verdict: FirewallVerdict }, steps: FixStep[], how: string): void => {
    const evidence: DoctorEvidence[] = [];
    if (hit.verdict.file !== undefined) evidence.push({ file: hit.verdict.file, ...(hit.verdict.line !== undefined ? { line: hit.verdict.line } : {}), text: hit.verdict.text ?? '' });
    evidence.push({ file: '/etc/systemd/system', text: `${service} is enabled` });
    out.push({
      finding: finding(id, 'firewall', 'critical', `The ${what} configuration loaded at boot drops or rejects SSH (port ${hit.port}): the system boots but SSH never answers.`, evidence, {
        kind: 'firewall-disable',
        description: how,
      }),
      steps,
    });
  };

  const nftEnabled = enabledLinks(links, 'nftables.service');
  if (nftEnabled.length > 0) {
    const lines = await nftLines(files, '/etc/nftables.conf');
    const hit = blockedPort((port) => nftablesVerdict(lines, port));
    if (hit) {
      report('firewall-nftables', 'nftables', 'nftables.service', hit, nftEnabled.map(([path, target]) => ({ op: 'unlink', path: `/etc/systemd/system/${path}`, target })), 'Disable nftables.service for the next boot (its ruleset stays in /etc/nftables.conf).');
    }
  }
  const persistent = [...enabledLinks(links, 'netfilter-persistent.service'), ...enabledLinks(links, 'iptables.service')];
  if (persistent.length > 0) {
    const text = await files.read('/etc/iptables/rules.v4');
    if (text !== null) {
      const hit = blockedPort((port) => iptablesVerdict('/etc/iptables/rules.v4', text, port));
      if (hit) {
        report('firewall-iptables', 'iptables-persistent', persistent.map(([p]) => p.split('/').at(-1)).join(', '), hit, persistent.map(([path, target]) => ({ op: 'unlink', path: `/etc/systemd/system/${path}`, target })), 'Disable netfilter-persistent.service for the next boot (the rules stay in /etc/iptables/rules.v4).');
      }
    }
  }
  const ufwConf = await files.read('/etc/ufw/ufw.conf');
  if (ufwConf !== null && enabledLinks(links, 'ufw.service').length > 0) {
    const defaults = await files.read('/etc/default/ufw');
    const userRules = await files.read('/etc/ufw/user.rules');
    const hit = blockedPort((port) =>
      ufwVerdict(
        { conf: { file: '/etc/ufw/ufw.conf', text: ufwConf }, defaults: defaults === null ? null : { file: '/etc/default/ufw', text: defaults }, userRules: userRules === null ? null : { file: '/etc/ufw/user.rules', text: userRules } },
        port,
      ),
    );
    if (hit) {
      report('firewall-ufw', 'ufw', 'ufw.service', hit, [{ op: 'edit', path: '/etc/ufw/ufw.conf', digest: digestOf(ufwConf), edit: { kind: 'set-key', key: 'ENABLED', value: 'no' } }], 'Set ENABLED=no in /etc/ufw/ufw.conf: ufw loads no rule at the next boot.');
    }
  }
  return out;
}

/** Whether a configured interface (name or glob, or MAC) is one of this machine's NICs. */
function matchesNic(entry: NamedInterface, nics: readonly Nic[]): boolean {
  return nics.some((nic) => {
    if (entry.mac !== undefined && entry.mac !== nic.mac) return false;
    const re = globToRegExp(entry.name);
    return nic.names.some((n) => re.test(n));
  });
}

/** Network configuration naming only interfaces this hardware does not have (networkd, ifupdown, netplan). */
export async function checkNetwork(files: InstalledFiles, facts: Pick<RescueFacts, 'nics'>): Promise<Examined[]> {
  if (facts.nics.length === 0) return [];
  const named: NamedInterface[] = [];
  let matchesAll = false;
  for (const name of (await files.list('/etc/systemd/network')).filter((n) => n.endsWith('.network')).sort()) {
    const file = `/etc/systemd/network/${name}`;
    const text = await files.read(file);
    if (text === null) continue;
    const names = networkdNames(file, text);
    if (names === null) matchesAll = true;
    else named.push(...names);
  }
  const ifupdownFiles = ['/etc/network/interfaces'];
  for (let i = 0; i < ifupdownFiles.length && i < 20; i++) {
    const file = ifupdownFiles[i] as string;
    const text = await files.read(file);
    if (text === null) continue;
    const { names, sources } = ifupdownNames(file, text);
    named.push(...names);
    for (const source of sources) for (const f of await expandGlob(files, source.startsWith('/') ? source : `/etc/network/${source}`)) if (!ifupdownFiles.includes(f)) ifupdownFiles.push(f);
  }
  for (const name of (await files.list('/etc/netplan')).filter((n) => /\.ya?ml$/.test(n)).sort()) {
    const file = `/etc/netplan/${name}`;
    const text = await files.read(file);
    if (text !== null) named.push(...netplanNames(file, text));
  }
  if (matchesAll || named.length === 0) return [];
  const missing = named.filter((n) => !matchesNic(n, facts.nics));
  if (missing.length === 0) return [];
  const anyWorks = missing.length < named.length;
  const target = facts.nics.find((n) => n.link) ?? facts.nics[0];
  if (target === undefined) return [];
  const others = facts.nics.length > 1 ? ` (of ${facts.nics.map((n) => n.preferredName).join(', ')}: ${facts.nics.some((n) => n.link) ? 'the first with a link' : 'the first, none has a link'})` : '';
  const out: Examined[] = [];
  const byName = new Map<string, NamedInterface[]>();
  for (const m of missing) byName.set(m.name, [...(byName.get(m.name) ?? []), m]);
  for (const [name, entries] of byName) {
    const steps: FixStep[] = [];
    for (const file of [...new Set(entries.map((e) => e.file))]) {
      const text = await files.read(file);
      if (text === null || /[*?[]/.test(name)) continue;
      steps.push({ op: 'edit', path: file, digest: digestOf(text), edit: { kind: 'rename-interface', lines: entries.filter((e) => e.file === file).map((e) => e.line), from: name, to: target.preferredName } });
    }
    const present = facts.nics.map((n) => `${n.preferredName} (${n.mac})`).join(', ');
    out.push({
      finding: finding(
        `network-${slug(name)}`,
        'network-interface',
        anyWorks ? 'warning' : 'critical',
        `The network configuration names ${name}${entries[0]?.mac ? ` (${entries[0].mac})` : ''}, which this server does not have (it has ${present})${anyWorks ? '' : ': no interface is configured at boot and SSH never answers'}.`,
        entries.map((e) => ({ file: e.file, line: e.line, text: e.text })),
        steps.length > 0 ? { kind: 'network-rename', description: `Rename ${name} to ${target.preferredName}${others} in ${[...new Set(entries.map((e) => e.file))].join(', ')}.` } : undefined,
      ),
      ...(steps.length > 0 ? { steps } : {}),
    });
  }
  return out;
}

/** The default boot entry naming a kernel or initramfs that is not there (extlinux/syslinux, GRUB). */
export async function checkBootEntry(files: InstalledFiles): Promise<Examined[]> {
  const fstab = parseFstab((await files.read('/etc/fstab')) ?? '');
  const separateBoot = fstab.some((e) => e.file === '/boot');
  const entries: BootEntry[] = [];
  for (const file of ['/boot/extlinux/extlinux.conf', '/boot/syslinux/syslinux.cfg', '/boot/extlinux.conf', '/extlinux.conf', '/syslinux.cfg']) {
    const text = await files.read(file);
    const entry = text === null ? null : extlinuxDefault(file, text);
    if (entry) {
      entries.push(entry);
      break;
    }
  }
  for (const file of ['/boot/grub/grub.cfg', '/boot/grub2/grub.cfg']) {
    const text = await files.read(file);
    const entry = text === null ? null : grubDefault(file, text, await files.read(file.replace('grub.cfg', 'grubenv')));
    if (entry) {
      entries.push(entry);
      break;
    }
  }
  const out: Examined[] = [];
  for (const entry of entries) {
    const dir = entry.file.slice(0, entry.file.lastIndexOf('/'));
    const located = async (path: string): Promise<boolean> => {
      const clean = path.replace(/^\([^)]*\)/, '');
      const candidates = clean.startsWith('/') ? [clean, ...(separateBoot || entry.file.startsWith('/boot/') ? [`/boot${clean}`] : [])] : [`${dir}/${clean}`];
      for (const c of candidates) if (await files.exists(c)) return true;
      return false;
    };
    const missing: Array<{ what: string; path: string; line: number; text: string }> = [];
    if (entry.kernel && !(await located(entry.kernel.path))) missing.push({ what: 'kernel', ...entry.kernel });
    for (const initrd of entry.initrds) if (!(await located(initrd.path))) missing.push({ what: 'initramfs', ...initrd });
    if (missing.length === 0) continue;
    const kernels = (await files.list('/boot')).filter((n) => n.startsWith('vmlinuz-')).sort();
    out.push({
      finding: finding(
        `boot-entry-${slug(entry.file.split('/').at(-1) ?? 'boot')}`,
        'boot-entry',
        'critical',
        `The default boot entry "${entry.label}" of ${entry.file} loads ${missing.map((m) => `${m.what} ${m.path}`).join(' and ')}, which ${missing.length > 1 ? 'are' : 'is'} missing: the boot loader stops before Linux starts.${kernels.length > 0 ? ` Kernels present: ${kernels.join(', ')} (rescue-chroot, then reinstall the kernel package or point the entry at one of them).` : ' No kernel is left in /boot: reinstall one (rescue-chroot, apt-get install --reinstall linux-image-amd64).'}`,
        missing.map((m) => ({ file: entry.file, line: m.line, text: m.text })),
      ),
    });
  }
  return out;
}

/** Degraded md arrays (after the doctor assembled them). */
export function checkRaid(facts: Pick<RescueFacts, 'mdstat'>): Examined[] {
  if (facts.mdstat === null) return [];
  return parseMdstat(facts.mdstat)
    .filter((a) => a.degraded)
    .map((a) => ({
      finding: finding(
        `raid-${slug(a.name)}`,
        'raid',
        'warning',
        `The RAID array ${a.name} (${a.level ?? 'md'}) is degraded: ${a.working ?? '?'} of ${a.wanted ?? '?'} devices work (${a.map ?? ''}). The system boots from the rest; one more failure loses data. Replace the missing disk and add it back (rescue-raid re-add ${a.name} DEVICE).`,
        [{ file: '/proc/mdstat', text: facts.mdstat?.split('\n').filter((l) => l.startsWith(a.name) || l.includes('blocks')).slice(0, 4).join('\n') ?? '' }],
      ),
    }));
}

/** root unable to log in: its password locked (or key-only SSH) and no authorized key; a lost password offers a reset. */
export async function checkRootLogin(files: InstalledFiles): Promise<Examined[]> {
  const shadow = await files.read('/etc/shadow');
  if (shadow === null) return [];
  const root = shadowEntry(shadow);
  if (root === null) return [];
  const settings = sshdSettings(await sshdConfigLines(files));
  let keys = 0;
  const keyFiles: string[] = [];
  for (const pattern of settings.authorizedKeysFiles) {
    const path = pattern.replace(/%h/g, '/root').replace(/%u/g, 'root').replace(/%%/g, '%');
    const full = path.startsWith('/') ? path : `/root/${path}`;
    keyFiles.push(full);
    const text = await files.read(full);
    if (text !== null) keys += authorizedKeyCount(text);
  }
  if (keys > 0) return [];
  const locked = passwordLocked(root.password);
  const passwordSsh = settings.permitRootLogin === 'yes';
  const evidence: DoctorEvidence[] = [
    { file: '/etc/shadow', line: root.line, text: root.text },
    { file: keyFiles[0] ?? '/root/.ssh/authorized_keys', text: `no authorized key for root (${keyFiles.join(', ')})` },
  ];
  const steps: FixStep[] = [{ op: 'edit', path: '/etc/shadow', digest: digestOf(shadow), edit: { kind: 'root-password' } }];
  const fix = { kind: 'root-password' as const, description: 'Set a new root password in /etc/shadow (generated by Lifeboat and shown once; only its hash reaches the server).' };
  if (locked) {
    return [{ finding: finding('root-login', 'root-login', 'critical', "root's password is locked and root has no authorized SSH key: nobody can log in as root, on SSH or on the console.", evidence, fix), steps }];
  }
  if (!passwordSsh) {
    evidence.push({ file: '/etc/ssh/sshd_config', text: `PermitRootLogin ${settings.permitRootLogin}` });
    return [{ finding: finding('root-login', 'root-login', 'warning', `root has no authorized SSH key and sshd allows root only with a key (PermitRootLogin ${settings.permitRootLogin}): root cannot log in over SSH (the console still takes its password).`, evidence, fix), steps }];
  }
  return [{ finding: finding('root-login', 'root-login', 'info', 'root logs in with its password only (no authorized SSH key): if that password is lost, set a new one.', evidence, fix), steps }];
}

/** The last boot's errors in the installed system's journal, summarised. */
export function checkJournal(facts: Pick<RescueFacts, 'journal'>): Examined[] {
  const journal = facts.journal;
  if (journal === null || journal.status !== 0) return [];
  const { count, distinct } = summariseJournal(journal.output);
  if (count === 0) return [];
  return [
    {
      finding: finding(
        'journal-errors',
        'journal',
        'warning',
        `The installed system's last boot logged ${count} error line${count > 1 ? 's' : ''} (${distinct.length} distinct shown): they often name what failed.`,
        [{ command: journal.command, text: distinct.join('\n') }],
      ),
    },
  ];
}
