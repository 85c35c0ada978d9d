import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { nodePlatform } from '../platform-node.js';
import { examine } from './checks.js';
import type { RescueFacts } from './checks.js';
import { mountedFiles } from './doctor.js';
import type { MasterBootRecord, MbrBootCode } from './mbr.js';
import { parseChntpwList, parseChntpwUser, windowsBootManager, windowsLayout } from './windows-checks.js';
import type { BiosBootFacts, PartitionBootFiles, WindowsFacts } from './windows-checks.js';

const trees: string[] = [];
after(() => {
  for (const t of trees) rmSync(t, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'lifeboat-doctor-windows-'));
  trees.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

/** C: as the lab's Windows disk has it (windows-disk.ts), in the case Windows writes it. */
function windowsVolume(extra: Record<string, string> = {}): string {
  return tree({
    'Windows/System32/config/SAM': 'regf',
    'Windows/System32/config/SYSTEM': 'regf',
    'Windows/System32/drivers/.keep': '',
    'Users/Administrator/Documents/report.txt': 'Quarterly report\r\n',
    ...extra,
  });
}

function esp(files: string[] = ['EFI/Microsoft/Boot/bootmgfw.efi', 'EFI/Microsoft/Boot/BCD', 'EFI/Boot/bootx64.efi']): string {
  return tree(Object.fromEntries(files.map((f) => [f, 'MZ'])));
}

// What chntpw 1.00 prints for the lab's SAM hive (labWindowsUsers), abridged to what the checks read.
const listing = [
  'chntpw version 1.00 140201, (c) Petter N Hagen',
  "Hive <SAM> name (from header): <SAM>",
  '',
  '| RID -|---------- Username ------------| Admin? |- Lock? --|',
  '| 01f4 | Administrator                  | ADMIN  | dis/lock |',
  '| 03e9 | customer                       |        | dis/lock |',
  '| 01f5 | Guest                          |        | dis/lock |',
  '| 03ea | operator                       |        |          |',
  '',
].join('\n');

function userOutput(rid: number, name: string, bits: string, flags: { disabled?: boolean; lockout?: boolean }, failed: number): string {
  const x = (on: boolean | undefined): string => (on ? 'X' : ' ');
  return [
    `RID     : ${String(rid).padStart(4, '0')} [${rid.toString(16).padStart(4, '0')}]`,
    `Username: ${name}`,
    '',
    `Account bits: ${bits} =`,
    `[${x(flags.disabled)}] Disabled        | [ ] Homedir req.    | [ ] Passwd not req. | `,
    '[ ] Temp. duplicate | [X] Normal account  | [ ] NMS account     | ',
    '[ ] Domain trust ac | [ ] Wks trust act.  | [ ] Srv trust act   | ',
    `[ ] Pwd don't expir | [${x(flags.lockout)}] Auto lockout    | [ ] (unknown 0x08)  | `,
    '',
    `Failed login count: ${failed}, while max tries is: 0`,
    'Total  login count: 0',
    '',
  ].join('\n');
}

const sam = '/Windows/System32/config/SAM';
const accounts = (list = listing, users: Record<string, string> = {
  '01f4': userOutput(500, 'Administrator', '0x0011', { disabled: true }, 0),
  '03e9': userOutput(1001, 'customer', '0x0410', { lockout: true }, 5),
  '01f5': userOutput(501, 'Guest', '0x0011', { disabled: true }, 0),
}): WindowsFacts['accounts'] => ({
  list: { command: `chntpw -l ${sam}`, status: 0, output: list },
  users: Object.fromEntries(Object.entries(users).map(([rid, output]) => [rid, { command: `chntpw -u 0x${rid} ${sam}`, status: 0, output }])),
});

function facts(windows: Partial<WindowsFacts> = {}): RescueFacts {
  return {
    // What the Linux checks would read: a nearly full root and a degraded array say nothing on Windows.
    blkid: [],
    deviceExists: () => false,
    nics: [{ kernelName: 'eth0', mac: '52:54:00:12:34:56', link: true, names: ['ens3', 'eth0'], preferredName: 'ens3' }],
    mdstat: 'Personalities : [raid1]\nmd0 : active raid1 vda1[0]\n      1046528 blocks super 1.2 [2/1] [U_]\n\nunused devices: <none>\n',
    df: [{ target: '/', sizeBytes: 1_755_312_128, usedBytes: 1_755_000_000, availBytes: 312_128, inodes: 0, inodesUsed: 0, inodesFree: 0 }],
    sshdTest: null,
    journal: null,
    windows: { hiberfileSignature: null, esp: { device: '/dev/vda1', files: mountedFiles(nodePlatform, esp()) }, accounts: accounts(), bios: null, ...windows },
  };
}

async function check(root: string, f: RescueFacts = facts()) {
  const { examined, errors } = await examine(mountedFiles(nodePlatform, root), f);
  assert.deepEqual(errors, []);
  return examined.map((e) => e.finding);
}

describe('the doctor on an installed Windows', () => {
  it('knows Windows by Windows/System32, whatever the case; a Linux root is not Windows', async () => {
    assert.deepEqual(await windowsLayout(mountedFiles(nodePlatform, windowsVolume({ 'hiberfil.sys': 'HIBR' }))), {
      system32: '/Windows/System32',
      sam,
      hiberfile: '/hiberfil.sys',
    });
    const upper = tree({ 'WINDOWS/system32/CONFIG/sam': 'regf', 'HIBERFIL.SYS': '' });
    assert.deepEqual(await windowsLayout(mountedFiles(nodePlatform, upper)), { system32: '/WINDOWS/system32', sam: '/WINDOWS/system32/CONFIG/sam', hiberfile: '/HIBERFIL.SYS' });
    assert.equal(await windowsLayout(mountedFiles(nodePlatform, tree({ 'etc/fstab': '', 'windows/notes.txt': '' }))), null);
  });

  it('the lab\'s clean disk: the locked-out customer and every administrator disabled, nothing from the Linux checks', async () => {
    const found = await check(windowsVolume());
    assert.deepEqual(
      found.map((f) => [f.id, f.check, f.severity]),
      [
        ['windows-locked-customer', 'windows-accounts', 'warning'],
        ['windows-admins-disabled', 'windows-accounts', 'warning'],
      ],
    );
    const [locked, admins] = found;
    assert.match(locked?.summary ?? '', /customer is locked out after 5 failed logins.*rescue-winpass customer --unlock/);
    assert.deepEqual(locked?.evidence, [
      { command: `chntpw -l ${sam}`, text: '| 03e9 | customer                       |        | dis/lock |' },
      { command: `chntpw -u 0x03e9 ${sam}`, text: 'Account bits: 0x0410 = Normal account, Auto lockout; failed logins: 5' },
    ]);
    assert.match(admins?.summary ?? '', /\(Administrator\) is disabled or locked out.*rescue-winpass Administrator --unlock/);
    assert.equal(admins?.evidence[1]?.text, 'Account bits: 0x0011 = Disabled, Normal account; failed logins: 0');
    assert.equal(found.some((f) => /Guest|operator/.test(f.summary)), false, 'a disabled Guest and an ordinary account are no finding');
    assert.equal(found.some((f) => f.fix !== undefined), false, 'no one-step fix');
  });

  it('hibernated: C: holds hiberfil.sys starting with HIBR (any case); the way out is in the evidence', async () => {
    const root = windowsVolume({ 'hiberfil.sys': 'HIBR' });
    const found = await check(root, facts({ hiberfileSignature: 'HIBR', accounts: null }));
    assert.deepEqual(found.map((f) => [f.id, f.check, f.severity]), [['windows-hibernated', 'windows-hibernation', 'warning']]);
    assert.match(found[0]?.summary ?? '', /did not shut down fully.*Writing to C: is refused/);
    assert.deepEqual(found[0]?.evidence[0], { file: '/hiberfil.sys', text: 'hiberfil.sys starts with "HIBR": a hibernated session' });
    assert.match(found[0]?.evidence[1]?.text ?? '', /rescue-mount --read-write --remove-hiberfile.*loses the hibernated session/);
    assert.match(found[0]?.evidence[1]?.text ?? '', /fast startup off/);
    assert.equal((await check(root, facts({ hiberfileSignature: 'hibr', accounts: null }))).length, 1);
    // Resumed, or written out by a shutdown without hibernation: not hibernated.
    assert.deepEqual(await check(root, facts({ hiberfileSignature: 'wake', accounts: null })), []);
    assert.deepEqual(await check(root, facts({ hiberfileSignature: '\0\0\0\0', accounts: null })), []);
    // And the accounts' texts then say to deal with the hibernation first.
    const both = await check(root, facts({ hiberfileSignature: 'HIBR' }));
    assert.match(both.find((f) => f.id === 'windows-locked-customer')?.summary ?? '', /C: is hibernated: see windows-hibernated first/);
  });

  it('windows-boot: the ESP without bootmgfw.efi or BCD is critical, with each path checked as evidence', async () => {
    const root = windowsVolume();
    const noBcd = await check(root, facts({ accounts: null, esp: { device: '/dev/vda1', files: mountedFiles(nodePlatform, esp(['EFI/Microsoft/Boot/bootmgfw.efi'])) } }));
    assert.deepEqual(noBcd.map((f) => [f.id, f.check, f.severity]), [['windows-boot-files', 'windows-boot', 'critical']]);
    assert.match(noBcd[0]?.summary ?? '', /\(\/dev\/vda1\) lacks EFI\/Microsoft\/Boot\/BCD: .*Windows cannot boot.*docs\/rescue-image\.md, row BootSect/);
    assert.deepEqual(noBcd[0]?.evidence, [{ text: 'EFI/Microsoft/Boot/bootmgfw.efi on /dev/vda1: present' }, { text: 'EFI/Microsoft/Boot/BCD on /dev/vda1: missing' }]);
    const empty = await check(root, facts({ accounts: null, esp: { device: '/dev/vda1', files: mountedFiles(nodePlatform, esp(['EFI/Boot/bootx64.efi'])) } }));
    assert.match(empty[0]?.summary ?? '', /lacks EFI\/Microsoft\/Boot\/bootmgfw\.efi and EFI\/Microsoft\/Boot\/BCD/);
    // No ESP mounted (a BIOS install keeps its boot files elsewhere): nothing to say.
    assert.deepEqual(await check(root, facts({ accounts: null, esp: null })), []);
  });

  describe('windows-boot of a BIOS install (no ESP): the MBR, the active partition, bootmgr and Boot\\BCD', () => {
    const windowsCode: MbrBootCode = { kind: 'windows', name: "Windows' (Vista or later)", bootsActive: true, text: ['Invalid partition table', 'Error loading operating system', 'Missing operating system'] };
    /** The usual layout: System Reserved (100 MiB, active) then C:. */
    const mbr = (changes: { active?: number[]; types?: number[]; bootCode?: MbrBootCode; scheme?: MasterBootRecord['scheme'] } = {}): MasterBootRecord => ({
      scheme: changes.scheme ?? 'dos',
      partitions: [
        { number: 1, active: (changes.active ?? [1]).includes(1), type: changes.types?.[0] ?? 0x07, startSector: 2048, sectors: 204800 },
        { number: 2, active: (changes.active ?? [1]).includes(2), type: changes.types?.[1] ?? 0x07, startSector: 206848, sectors: 41736192 },
      ],
      bootCode: changes.bootCode ?? windowsCode,
    });
    const files = (number: number, bootmgr: boolean, bcd: boolean): PartitionBootFiles => ({ number, device: `/dev/sda${number}`, bootmgr: bootmgr ? '/bootmgr' : null, bcd: bcd ? '/Boot/BCD' : null });
    const bios = (record: MasterBootRecord, bootFiles: PartitionBootFiles[] = [files(1, true, true)]): BiosBootFacts => ({ disk: '/dev/sda', windowsPartition: 2, command: 'od -An -v -tx1 -N512 /dev/sda', mbr: record, bootFiles });
    const boot = async (b: BiosBootFacts, esp: WindowsFacts['esp'] = null) => check(windowsVolume(), facts({ accounts: null, esp, bios: b }));
    const ids = (found: Awaited<ReturnType<typeof boot>>) => found.map((f) => [f.id, f.check, f.severity]);

    it("Windows' boot code, System Reserved active with bootmgr and BCD: nothing; an ESP or a GPT disk leaves the BIOS half out", async () => {
      assert.deepEqual(await boot(bios(mbr())), []);
      assert.deepEqual(await boot(bios(mbr({ active: [] }), []), { device: '/dev/vda1', files: mountedFiles(nodePlatform, esp()) }), [], 'with an ESP, the UEFI half only');
      assert.deepEqual(await boot(bios(mbr({ active: [], scheme: 'gpt' }), [])), []);
      for (const kind of ['syslinux', 'install-mbr'] as const) {
        assert.deepEqual(await boot(bios(mbr({ bootCode: { kind, name: kind, bootsActive: true, text: [] } }))), [], `${kind}'s code starts the active partition too`);
      }
    });

    it('an MBR without boot code is critical, GRUB\'s or unknown code a warning; the fix is install-mbr on the disk', async () => {
      const none = await boot(bios(mbr({ bootCode: { kind: 'none', name: 'no boot code (all zero)', bootsActive: false, text: [] } })));
      assert.deepEqual(ids(none), [['windows-boot-mbr-code', 'windows-boot', 'critical']]);
      assert.match(none[0]?.summary ?? '', /MBR of \/dev\/sda has no boot code .*Windows cannot boot\. .*install-mbr \/dev\/sda .*keeps the partition table and the disk signature.*bootrec \/fixmbr/);
      assert.deepEqual(none[0]?.evidence, [{ command: 'od -An -v -tx1 -N512 /dev/sda', text: "bytes 0-439 of /dev/sda (the MBR's boot code): no boot code (all zero)" }]);
      const grub = await boot(bios(mbr({ bootCode: { kind: 'grub', name: "GRUB's boot.img", bootsActive: false, text: ['GRUB', 'Geom'] } })));
      assert.deepEqual(ids(grub), [['windows-boot-mbr-code', 'windows-boot', 'warning']]);
      assert.match(grub[0]?.summary ?? '', /GRUB's boot code, not Windows'.*grub rescue>.*install-mbr \/dev\/sda/);
      assert.equal(grub[0]?.evidence[0]?.text, `bytes 0-439 of /dev/sda (the MBR's boot code): GRUB's boot.img; its text: "GRUB", "Geom"`);
      const unknown = await boot(bios(mbr({ bootCode: { kind: 'unknown', name: 'boot code of no known boot loader', bootsActive: false, text: [] } })));
      assert.match(unknown[0]?.summary ?? '', /no known boot loader, not Windows'/);
    });

    it('no partition active, or two: critical, with the partition to mark (parted ... boot on) when one holds the boot files', async () => {
      const none = await boot(bios(mbr({ active: [] }), [files(1, true, true), files(2, false, false)]));
      assert.deepEqual(ids(none), [['windows-boot-active', 'windows-boot', 'critical']]);
      assert.match(none[0]?.summary ?? '', /No partition of \/dev\/sda is marked active: .*Windows cannot boot\. \/dev\/sda1 \(partition 1\) holds bootmgr and Boot\/BCD: mark it active with parted \/dev\/sda set 1 boot on\.$/);
      assert.deepEqual(none[0]?.evidence, [
        { command: 'od -An -v -tx1 -N512 /dev/sda', text: '/dev/sda partition 1: type 0x07 (NTFS), 100 MiB' },
        { command: 'od -An -v -tx1 -N512 /dev/sda', text: '/dev/sda partition 2: type 0x07 (NTFS), 20379 MiB' },
        { text: '/dev/sda1 (partition 1) holds bootmgr and Boot/BCD' },
      ]);
      const two = await boot(bios(mbr({ active: [1, 2] }), [files(1, false, false), files(2, true, true)]));
      assert.match(two[0]?.summary ?? '', /2 partitions of \/dev\/sda are marked active: .*"Invalid partition table".*parted \/dev\/sda set 2 boot on/);
      const nowhere = await boot(bios(mbr({ active: [] }), [files(1, false, false), files(2, false, true)]));
      assert.match(nowhere[0]?.summary ?? '', /No NTFS partition read holds bootmgr and Boot\\BCD: .*parted \/dev\/sda set 1 boot on; then rebuild them\. .*bcdboot C:\\Windows \/s S: \/f BIOS/);
    });

    it('the active partition without bootmgr or BCD: critical, what Windows shows, and the fix (another partition, or bcdboot from Windows media)', async () => {
      const noBcd = await boot(bios(mbr(), [files(1, true, false)]));
      assert.deepEqual(ids(noBcd), [['windows-boot-bootmgr', 'windows-boot', 'critical']]);
      assert.match(noBcd[0]?.summary ?? '', /active partition of \/dev\/sda \(\/dev\/sda1\) lacks Boot\\BCD: the boot stops with "The Boot Configuration Data .*\\Boot\\BCD\)".*Rebuilding them needs Windows, not the rescue: .*bcdboot C:\\Windows \/s S: \/f BIOS.*bootrec \/rebuildbcd/);
      assert.deepEqual(noBcd[0]?.evidence, [
        { command: 'od -An -v -tx1 -N512 /dev/sda', text: '/dev/sda partition 1: type 0x07 (NTFS), 100 MiB, active' },
        { text: 'bootmgr on /dev/sda1: present' },
        { text: 'Boot/BCD on /dev/sda1: missing' },
      ]);
      const elsewhere = await boot(bios(mbr(), [files(1, false, false), files(2, true, true)]));
      assert.match(elsewhere[0]?.summary ?? '', /lacks bootmgr and Boot\\BCD: the boot stops with "BOOTMGR is missing".*\/dev\/sda2 \(partition 2\) holds bootmgr and Boot\/BCD: mark it active instead with parted \/dev\/sda set 2 boot on\.$/);
      const linux = await boot(bios(mbr({ types: [0x83, 0x07] }), [files(2, true, true)]));
      assert.match(linux[0]?.summary ?? '', /active partition of \/dev\/sda \(partition 1\) is no NTFS partition.*parted \/dev\/sda set 2 boot on/);
      assert.deepEqual(linux[0]?.evidence[0], { command: 'od -An -v -tx1 -N512 /dev/sda', text: '/dev/sda partition 1: type 0x83 (Linux), 100 MiB, active' });
      // A partition that could not be read (ntfs-3g refused it) says nothing.
      assert.deepEqual(await boot(bios(mbr(), [{ number: 1, device: '/dev/sda1', bootmgr: null, bcd: null, error: 'busy' }])), []);
    });

    it("finds bootmgr and Boot/BCD whatever their case; a bare volume has neither", async () => {
      assert.deepEqual(await windowsBootManager(mountedFiles(nodePlatform, tree({ BOOTMGR: 'MZ', 'boot/bcd': 'regf' }))), { bootmgr: '/BOOTMGR', bcd: '/boot/bcd' });
      assert.deepEqual(await windowsBootManager(mountedFiles(nodePlatform, tree({ 'Boot/BCD.LOG': '' }))), { bootmgr: null, bcd: null });
    });
  });

  it('windows-accounts: skipped without chntpw; an enabled administrator is enough; no Windows facts at all is no finding', async () => {
    const root = windowsVolume();
    assert.deepEqual(await check(root, facts({ accounts: null })), []);
    const withAdmin = `${listing}| 03eb | admin2                         | ADMIN  |          |\n`;
    assert.deepEqual((await check(root, facts({ accounts: accounts(withAdmin) }))).map((f) => f.id), ['windows-locked-customer']);
    const failed = { list: { command: `chntpw -l ${sam}`, status: 1, output: 'openHive failed' }, users: {} };
    assert.deepEqual(await check(root, facts({ accounts: failed })), []);
    const { windows: _windows, ...linuxOnly } = facts();
    assert.deepEqual(await check(root, linuxOnly), [], 'the Linux checks stay quiet on C:');
  });

  it('parses chntpw -l rows and -u account bits', () => {
    const rows = parseChntpwList(`${listing}| 03ec | Jean Dupont                    |        | *BLANK*  |\n`);
    assert.deepEqual(
      rows.map((r) => [r.rid, r.name, r.admin, r.disabledOrLocked]),
      [
        ['01f4', 'Administrator', true, true],
        ['03e9', 'customer', false, true],
        ['01f5', 'Guest', false, true],
        ['03ea', 'operator', false, false],
        ['03ec', 'Jean Dupont', false, false],
      ],
    );
    assert.deepEqual(parseChntpwUser(userOutput(1001, 'customer', '0x0410', { lockout: true }, 5)), {
      disabled: false,
      lockedOut: true,
      failedLogins: 5,
      summary: 'Account bits: 0x0410 = Normal account, Auto lockout; failed logins: 5',
    });
    assert.deepEqual(parseChntpwUser('nothing'), { disabled: false, lockedOut: false, failedLogins: null, summary: 'Account bits: ? = none' });
  });
});
