/**
 * The rescue doctor's checks of an installed Windows (issue 16's `windows` profile): C: mounted
 * read-only by `rescue-mount` (ntfs-3g), its EFI system partition beside it (or, a BIOS install, the MBR
 * of its disk and the active partition). Read-only findings with
 * evidence, no one-step fix: the fixes need C: read-write (`rescue-winpass`) or Windows itself.
 * The parsers of `chntpw`'s output are here too: pure functions, bundled for QuickJS.
 */
import type { CommandOutput, Examined, InstalledFiles } from './checks.js';
import { finding, runChecks, slug } from './checks.js';
import { describePartition } from './mbr.js';
import type { MasterBootRecord, MbrPartition } from './mbr.js';

/** Where the parts of an installed Windows are on C:, with the case the volume has them in. */
export interface WindowsLayout {
  /** `/Windows/System32`. */
  readonly system32: string;
  /** `/Windows/System32/config/SAM`, or null when there is none. */
  readonly sam: string | null;
  /** `/hiberfil.sys`, or null when there is none. */
  readonly hiberfile: string | null;
}

/** What the rescue system read of an installed Windows, beyond C:'s files. */
export interface WindowsFacts {
  /** The first four bytes of C:'s hiberfil.sys (its signature, `HIBR` when hibernated), or null without one. */
  readonly hiberfileSignature: string | null;
  /** The EFI system partition `rescue-mount` mounted beside C:, or null when none was found. */
  readonly esp: { readonly device: string; readonly files: InstalledFiles } | null;
  /**
   * The SAM's accounts, read with chntpw (in the windows image only): null when chntpw is not in
   * this rescue system. `users` holds `chntpw -u RID` of each account the listing marks `dis/lock`.
   */
  readonly accounts: { readonly list: CommandOutput; readonly users: Readonly<Record<string, CommandOutput>> } | null;
  /** Without an ESP: how the BIOS starts this Windows from its MBR disk; null when C: is on no MBR disk (or there is an ESP). */
  readonly bios: BiosBootFacts | null;
}

/** Windows Boot Manager's files on one partition, as found. */
export interface PartitionBootFiles {
  readonly number: number;
  /** `/dev/sda1`. */
  readonly device: string;
  /** `/bootmgr` in the case the volume has it, or null when missing. */
  readonly bootmgr: string | null;
  /** `/Boot/BCD` in the case the volume has it, or null when missing. */
  readonly bcd: string | null;
  /** Why the partition could not be read (then bootmgr and bcd say nothing). */
  readonly error?: string;
}

/** What the rescue read of the MBR disk holding C: (a BIOS install). */
export interface BiosBootFacts {
  /** `/dev/sda`. */
  readonly disk: string;
  /** C:'s partition number on `disk`. */
  readonly windowsPartition: number;
  /** The command that read the disk's first sector, for the evidence. */
  readonly command: string;
  readonly mbr: MasterBootRecord;
  /** The NTFS primary partitions read: the active one, and the others when it does not start Windows. */
  readonly bootFiles: readonly PartitionBootFiles[];
}

/** The files of the EFI system partition that start Windows (what `bcdboot` writes). */
export const windowsBootFiles = ['/EFI/Microsoft/Boot/bootmgfw.efi', '/EFI/Microsoft/Boot/BCD'] as const;

/** A directory entry named `name` whatever its case (NTFS names are case-insensitive; ntfs-3g looks them up as they are). */
async function entry(files: InstalledFiles, dir: string, name: string): Promise<string | null> {
  const found = (await files.list(dir)).find((n) => n.toLowerCase() === name.toLowerCase());
  return found === undefined ? null : `${dir === '/' ? '' : dir}/${found}`;
}

/** Windows Boot Manager's files of a BIOS install (what `bcdboot /f BIOS` writes) at the root of `files`, whatever their case. */
export async function windowsBootManager(files: InstalledFiles): Promise<{ bootmgr: string | null; bcd: string | null }> {
  const boot = await entry(files, '/', 'Boot');
  return { bootmgr: await entry(files, '/', 'bootmgr'), bcd: boot === null ? null : await entry(files, boot, 'BCD') };
}

/** The Windows installed at the root of `files` (a `Windows/System32` directory), or null. */
export async function windowsLayout(files: InstalledFiles): Promise<WindowsLayout | null> {
  const windows = await entry(files, '/', 'Windows');
  const system32 = windows === null ? null : await entry(files, windows, 'System32');
  if (system32 === null || (await files.list(system32)).length === 0) return null;
  const config = await entry(files, system32, 'config');
  return {
    system32,
    sam: config === null ? null : await entry(files, config, 'SAM'),
    hiberfile: await entry(files, '/', 'hiberfil.sys'),
  };
}

/** One row of `chntpw -l SAM`. */
export interface ChntpwAccount {
  /** The RID in hex, as chntpw prints it (`03e9`). */
  readonly rid: string;
  readonly name: string;
  /** A member of Administrators. */
  readonly admin: boolean;
  /** `dis/lock`: disabled or locked out (chntpw -l does not tell which). */
  readonly disabledOrLocked: boolean;
  /** The row as printed. */
  readonly text: string;
}

/** The accounts of `chntpw -l SAM`: rows `| 01f4 | Administrator | ADMIN | dis/lock |`. */
export function parseChntpwList(output: string): ChntpwAccount[] {
  const out: ChntpwAccount[] = [];
  for (const line of output.split('\n')) {
    const row = /^\| ([0-9a-f]{4}) \| (.*?)\s*\| (ADMIN|\s*)\s*\| (.*?)\s*\|\s*$/.exec(line);
    if (!row) continue;
    out.push({ rid: row[1] as string, name: row[2] as string, admin: row[3] === 'ADMIN', disabledOrLocked: /dis\/lock/.test(row[4] as string), text: line });
  }
  return out;
}

/** What `chntpw -u RID SAM` says of one account. */
export interface ChntpwAccountState {
  readonly disabled: boolean;
  /** The lockout flag (ACB_AUTOLOCK): Windows refuses the account's logins. */
  readonly lockedOut: boolean;
  readonly failedLogins: number | null;
  /** `Account bits: 0x0410 = Normal account, Auto lockout`: the flags set, for the evidence. */
  readonly summary: string;
}

/** The account bits chntpw prints (`[X] Disabled | [ ] Homedir req. | ...`). */
export function parseChntpwUser(output: string): ChntpwAccountState {
  const bits = /Account bits:\s*(0x[0-9a-f]+)/i.exec(output)?.[1] ?? '?';
  const set = [...output.matchAll(/\[X\] ([^|\n]+?)\s*(?=\||$)/gm)].map((m) => m[1] as string);
  const failed = /Failed login count:\s*(\d+)/.exec(output);
  const failedLogins = failed ? Number(failed[1]) : null;
  return {
    disabled: set.includes('Disabled'),
    lockedOut: set.includes('Auto lockout'),
    failedLogins,
    summary: `Account bits: ${bits} = ${set.join(', ') || 'none'}${failedLogins === null ? '' : `; failed logins: ${failedLogins}`}`,
  };
}

/** Whether a hiberfil.sys signature says hibernated (`hibr`, any case: hibernation or fast startup), as ntfs-3g reads it. */
export function hibernatedSignature(signature: string | null): boolean {
  return signature !== null && signature.toLowerCase() === 'hibr';
}

/** C: holding a hibernated hiberfil.sys: Windows did not shut down fully, and C: cannot be written. */
export function checkWindowsHibernation(layout: WindowsLayout, facts: Pick<WindowsFacts, 'hiberfileSignature'>): Examined[] {
  if (layout.hiberfile === null || !hibernatedSignature(facts.hiberfileSignature)) return [];
  return [
    {
      finding: finding(
        'windows-hibernated',
        'windows-hibernation',
        'warning',
        'Windows did not shut down fully: it is hibernated, or it used fast startup (a hibernated kernel session). Writing to C: is refused (rescue-mount mounts it read-only, rescue-winpass cannot change accounts); reading and copying files off works.',
        [
          { file: layout.hiberfile, text: `${layout.hiberfile.slice(1)} starts with "${facts.hiberfileSignature}": a hibernated session` },
          {
            text: 'To write to C:, either boot Windows and shut it down fully (shutdown /s /t 0, or turn fast startup off), then rescue again; or rescue-umount, then rescue-mount --read-write --remove-hiberfile: it deletes hiberfil.sys and loses the hibernated session (its unsaved work).',
          },
        ],
      ),
    },
  ];
}

/**
 * What keeps Windows from starting: with an EFI system partition, Windows Boot Manager or its BCD
 * missing from it; without one, on an MBR disk (a BIOS install), see {@link checkWindowsBiosBoot}.
 */
export async function checkWindowsBoot(facts: Pick<WindowsFacts, 'esp' | 'bios'>): Promise<Examined[]> {
  const esp = facts.esp;
  if (esp === null) return facts.bios ? checkWindowsBiosBoot(facts.bios) : [];
  const checked: Array<{ path: string; present: boolean }> = [];
  for (const path of windowsBootFiles) checked.push({ path, present: await esp.files.exists(path) });
  const missing = checked.filter((c) => !c.present).map((c) => c.path.slice(1));
  if (missing.length === 0) return [];
  return [
    {
      finding: finding(
        'windows-boot-files',
        'windows-boot',
        'critical',
        `The EFI system partition (${esp.device}) lacks ${missing.join(' and ')}: the firmware's "Windows Boot Manager" entry has nothing to start, and Windows cannot boot. How to put them back: docs/rescue-image.md, row BootSect (UEFI: restore them from a copy, then efibootmgr; rebuilding them needs bcdboot from Windows' installation media).`,
        checked.map((c) => ({ text: `${c.path.slice(1)} on ${esp.device}: ${c.present ? 'present' : 'missing'}` })),
      ),
    },
  ];
}

/** How to put back boot code that starts the active partition: what the windows image has, and Windows' own way. */
function mbrCodeFix(disk: string): string {
  return `Put back boot code that starts the active partition, as Windows' does: install-mbr ${disk} (the rescue's mbr package; it keeps the partition table and the disk signature Windows' BCD refers to), or TestDisk's Advanced > MBR Code; from Windows' installation media: bootrec /fixmbr.`;
}

/** `parted DISK set N boot on`: the one way given to mark a partition active (parted clears the flag on the others). */
const markActive = (disk: string, n: number): string => `parted ${disk} set ${n} boot on`;

/**
 * A BIOS install: the BIOS runs the MBR's boot code, which starts the boot sector of the one partition
 * marked active (System Reserved, or C: without one), which starts `bootmgr`, which reads `Boot\BCD`.
 * Each missing link is a finding, in that order; a partition that could not be read says nothing.
 */
export function checkWindowsBiosBoot(bios: BiosBootFacts): Examined[] {
  const { disk, mbr } = bios;
  if (mbr.scheme !== 'dos') return [];
  const table = (p: MbrPartition): { command: string; text: string } => ({ command: bios.command, text: `${disk} ${describePartition(p)}` });
  const out: Examined[] = [];
  const code = mbr.bootCode;
  if (!code.bootsActive) {
    const what =
      code.kind === 'none'
        ? `The MBR of ${disk} has no boot code (its first 440 bytes are zero): the BIOS finds nothing to run on this disk, and Windows cannot boot.`
        : code.kind === 'grub'
          ? `The MBR of ${disk} holds GRUB's boot code, not Windows': the server starts GRUB (of a Linux that is or was on this disk), which starts Windows only from an entry of its menu; if it stops at "grub rescue>" or "error: no such partition", Windows cannot boot.`
          : `The MBR of ${disk} holds boot code of no known boot loader, not Windows': if the server stops before Windows starts (a blank screen, an unknown boot loader's message), Windows cannot boot.`;
    out.push({
      finding: finding('windows-boot-mbr-code', 'windows-boot', code.kind === 'none' ? 'critical' : 'warning', `${what} ${mbrCodeFix(disk)}`, [
        { command: bios.command, text: `bytes 0-439 of ${disk} (the MBR's boot code): ${code.name}${code.text.length > 0 ? `; its text: ${code.text.map((t) => `"${t}"`).join(', ')}` : ''}` },
      ]),
    });
  }
  const ntfs = (n: number): PartitionBootFiles | undefined => bios.bootFiles.find((f) => f.number === n && f.error === undefined);
  const holder = bios.bootFiles.find((f) => f.error === undefined && f.bootmgr !== null && f.bcd !== null);
  const holderText = (f: PartitionBootFiles): string => `${f.device} (partition ${f.number}) holds ${f.bootmgr?.slice(1)} and ${f.bcd?.slice(1)}`;
  const rebuild = `Rebuilding them needs Windows, not the rescue: from Windows' installation media, Repair your computer > Command Prompt: bcdboot C:\\Windows /s S: /f BIOS (S: the active partition's letter there), or bootrec /rebuildbcd for the BCD alone.`;
  const active = mbr.partitions.filter((p) => p.active);
  if (active.length !== 1) {
    const first = mbr.partitions.find((p) => p.type === 0x07);
    const target = holder?.number ?? first?.number ?? bios.windowsPartition;
    const fix = holder
      ? `${holderText(holder)}: mark it active with ${markActive(disk, holder.number)}.`
      : `No NTFS partition read holds bootmgr and Boot\\BCD: mark the one that should start Windows active (System Reserved, else C:): ${markActive(disk, target)}; then rebuild them. ${rebuild}`;
    const what =
      active.length === 0
        ? `No partition of ${disk} is marked active: the MBR's boot code has no partition to start ("Invalid partition table", "Missing operating system", or the BIOS moves on to its next boot device), and Windows cannot boot.`
        : `${active.length} partitions of ${disk} are marked active: Windows' boot code stops with "Invalid partition table", and Windows cannot boot.`;
    out.push({
      finding: finding('windows-boot-active', 'windows-boot', 'critical', `${what} ${fix}`, [...mbr.partitions.map(table), ...(holder ? [{ text: holderText(holder) }] : [])]),
    });
    return out;
  }
  const chosen = active[0] as MbrPartition;
  const files = ntfs(chosen.number);
  const notNtfs = chosen.type !== 0x07;
  if (!notNtfs && (files === undefined || (files.bootmgr !== null && files.bcd !== null))) return out;
  const device = files?.device ?? `partition ${chosen.number} of ${disk}`;
  const missing = notNtfs ? [] : [...(files?.bootmgr === null ? ['bootmgr'] : []), ...(files?.bcd === null ? ['Boot\\BCD'] : [])];
  const other = holder !== undefined && holder.number !== chosen.number ? holder : undefined;
  const what = notNtfs
    ? `The active partition of ${disk} (partition ${chosen.number}) is no NTFS partition: it cannot hold Windows' bootmgr, and Windows does not start from it.`
    : `The active partition of ${disk} (${device}) lacks ${missing.join(' and ')}: the boot stops with "${files?.bootmgr === null ? 'BOOTMGR is missing' : 'The Boot Configuration Data for your PC is missing or contains errors (File: \\Boot\\BCD)'}", and Windows cannot boot.`;
  const fix = other ? `${holderText(other)}: mark it active instead with ${markActive(disk, other.number)}.` : rebuild;
  out.push({
    finding: finding('windows-boot-bootmgr', 'windows-boot', 'critical', `${what} ${fix}`, [
      table(chosen),
      ...(files && !notNtfs
        ? [
            { text: `bootmgr on ${files.device}: ${files.bootmgr === null ? 'missing' : 'present'}` },
            { text: `Boot/BCD on ${files.device}: ${files.bcd === null ? 'missing' : 'present'}` },
          ]
        : []),
      ...(other ? [{ text: holderText(other) }] : []),
    ]),
  });
  return out;
}

/**
 * Accounts of the SAM locked out, and every administrator disabled or locked out (no local login
 * with administrator rights). Disabled accounts otherwise are left alone: Guest and the built-in
 * Administrator are disabled on purpose on most systems.
 */
export function checkWindowsAccounts(facts: Pick<WindowsFacts, 'accounts' | 'hiberfileSignature'>, layout: WindowsLayout): Examined[] {
  const accounts = facts.accounts;
  if (accounts === null || accounts.list.status !== 0 || layout.sam === null) return [];
  const rows = parseChntpwList(accounts.list.output);
  const state = (row: ChntpwAccount): { output: CommandOutput; state: ChntpwAccountState } | null => {
    const output = row.disabledOrLocked ? accounts.users[row.rid] : undefined;
    return output === undefined ? null : { output, state: parseChntpwUser(output.output) };
  };
  const hibernated = hibernatedSignature(facts.hiberfileSignature) ? ' (C: is hibernated: see windows-hibernated first)' : '';
  const out: Examined[] = [];
  for (const row of rows) {
    const s = state(row);
    if (!s?.state.lockedOut) continue;
    const failed = s.state.failedLogins ? ` after ${s.state.failedLogins} failed logins` : '';
    out.push({
      finding: finding(
        `windows-locked-${slug(row.name)}`,
        'windows-accounts',
        'warning',
        `The Windows account ${row.name} is locked out${failed}: Windows refuses its logins until it is unlocked. Unlock it: rescue-mount --read-write, then rescue-winpass ${row.name} --unlock${hibernated}.`,
        [
          { command: accounts.list.command, text: row.text },
          { command: s.output.command, text: s.state.summary },
        ],
      ),
    });
  }
  const admins = rows.filter((r) => r.admin);
  const usable = admins.filter((r) => {
    const s = state(r);
    return !r.disabledOrLocked || (s !== null && !s.state.disabled && !s.state.lockedOut);
  });
  if (admins.length > 0 && usable.length === 0) {
    const first = admins[0] as ChntpwAccount;
    out.push({
      finding: finding(
        'windows-admins-disabled',
        'windows-accounts',
        'warning',
        `Every local administrator of this Windows (${admins.map((a) => a.name).join(', ')}) is disabled or locked out: nobody can log in locally with administrator rights (domain accounts aside). Enable one: rescue-mount --read-write, then rescue-winpass ${first.name} --unlock (or rescue-winpass USER --promote to make another account an administrator)${hibernated}.`,
        admins.flatMap((a) => {
          const s = state(a);
          return [{ command: accounts.list.command, text: a.text }, ...(s ? [{ command: s.output.command, text: s.state.summary }] : [])];
        }),
      ),
    });
  }
  return out;
}

/** Every Windows check; a check that throws becomes no finding and is returned in `errors`. */
export function examineWindows(layout: WindowsLayout, facts: WindowsFacts | undefined): Promise<{ examined: Examined[]; errors: string[] }> {
  const known: WindowsFacts = facts ?? { hiberfileSignature: null, esp: null, accounts: null, bios: null };
  return runChecks([
    ['windows-hibernation', async () => checkWindowsHibernation(layout, known)],
    ['windows-boot', () => checkWindowsBoot(known)],
    ['windows-accounts', async () => checkWindowsAccounts(known, layout)],
  ]);
}
