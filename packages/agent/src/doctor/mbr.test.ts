import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { bytesOfOd, describePartition, parseMbr, recogniseBootCode } from './mbr.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A first sector: `code` at 0 (at most 440 bytes), the partition entries, the 55 AA signature. */
function sector(code: Uint8Array, entries: Array<{ active?: boolean; type: number; start: number; sectors: number }>, signed = true): Uint8Array {
  const s = new Uint8Array(512);
  s.set(code.subarray(0, 440));
  entries.forEach((e, i) => {
    const view = new DataView(s.buffer, 446 + 16 * i, 16);
    view.setUint8(0, e.active ? 0x80 : 0);
    view.setUint8(4, e.type);
    view.setUint32(8, e.start, true);
    view.setUint32(12, e.sectors, true);
  });
  if (signed) s.set([0x55, 0xaa], 510);
  return s;
}

/**
 * Boot code laid out as Microsoft's MBR code is (built here, not copied): the stack set up below 0x7C00
 * first, the three messages as zero-terminated strings, the bytes 0x1B5-0x1B7 giving where each
 * starts minus 0x100; `tcpa` adds the TPM call's "TCPA" of Vista and later.
 */
function microsoftLikeCode(messages: [string, string, string], tcpa: boolean): Uint8Array {
  const code = new Uint8Array(440).fill(0x90);
  code.set([0x33, 0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x7c]);
  if (tcpa) code.set([0x66, 0x81, 0xfb, ...Buffer.from('TCPA', 'latin1')], 0x90);
  // Windows 7's English messages start at 0x163; longer ones start earlier, all ending before 0x1B5.
  let at = Math.min(0x163, 0x1b5 - messages.reduce((n, m) => n + m.length + 1, 0));
  messages.forEach((m, i) => {
    code.set([...Buffer.from(m, 'latin1'), 0], at);
    code[0x1b5 + i] = at - 0x100;
    at += m.length + 1;
  });
  return code;
}

const english: [string, string, string] = ['Invalid partition table', 'Error loading operating system', 'Missing operating system'];
const table = [
  { active: true, type: 0x07, start: 2048, sectors: 204800 },
  { type: 0x07, start: 206848, sectors: 1843200 },
];

describe('the master boot record', () => {
  it('reads the partition entries, the active flag and the scheme; GPT\'s protective MBR and an unsigned sector say so', () => {
    const mbr = parseMbr(sector(microsoftLikeCode(english, true), table));
    assert.equal(mbr?.scheme, 'dos');
    assert.deepEqual(mbr?.partitions, [
      { number: 1, active: true, type: 7, startSector: 2048, sectors: 204800 },
      { number: 2, active: false, type: 7, startSector: 206848, sectors: 1843200 },
    ]);
    assert.equal(describePartition(mbr!.partitions[0]!), 'partition 1: type 0x07 (NTFS), 100 MiB, active');
    assert.equal(describePartition({ number: 3, active: false, type: 0x1c, startSector: 0, sectors: 2 * 2048 }), 'partition 3: type 0x1c, 2 MiB');
    assert.equal(parseMbr(sector(new Uint8Array(0), [{ type: 0xee, start: 1, sectors: 0xffffffff }]))?.scheme, 'gpt');
    assert.equal(parseMbr(sector(new Uint8Array(0), [{ type: 0xee, start: 1, sectors: 0xffffffff }]))?.partitions[0]?.sectors, 0xffffffff);
    assert.deepEqual(parseMbr(sector(new Uint8Array(0), table, false)), { scheme: 'none', partitions: [], bootCode: { kind: 'none', name: 'no boot code (all zero)', bootsActive: false, text: [] } });
    assert.equal(parseMbr(new Uint8Array(100)), null);
  });

  it("recognises Windows' boot code by its layout, in any language; Vista and later by TCPA", () => {
    const win7 = recogniseBootCode(sector(microsoftLikeCode(english, true), table));
    assert.deepEqual(win7, { kind: 'windows', name: "Windows' (Vista or later)", bootsActive: true, text: english });
    const french: [string, string, string] = ['Table de partition invalide', 'Erreur au chargement du syst\u00e8me', "Syst\u00e8me d'exploitation absent"];
    const xp = recogniseBootCode(sector(microsoftLikeCode(french, false), table));
    assert.equal(xp.kind, 'windows');
    assert.equal(xp.name, "Windows' (XP or earlier) or DOS'");
    assert.deepEqual(xp.text, french);
    // The same prologue with offsets that point nowhere sensible is not Windows'.
    const broken = microsoftLikeCode(english, true);
    broken[0x1b6] = 0x10;
    assert.equal(recogniseBootCode(sector(broken, table)).kind, 'unknown');
  });

  it("recognises no boot code, syslinux's mbr.bin (the real file), install-mbr's and GRUB's, and says unknown otherwise", () => {
    assert.deepEqual(recogniseBootCode(sector(new Uint8Array(440), table)), { kind: 'none', name: 'no boot code (all zero)', bootsActive: false, text: [] });
    const syslinux = recogniseBootCode(sector(readFileSync('/usr/lib/syslinux/mbr/mbr.bin'), table));
    assert.equal(syslinux.kind, 'syslinux');
    assert.equal(syslinux.bootsActive, true);
    assert.deepEqual(syslinux.text, ['Missing operating system.', 'Multiple active partitions.', 'Operating system load error.'], 'its messages, not its code bytes');
    // install-mbr's code keeps its parameters before the disk signature: the keys of its prompt.
    const installMbr = new Uint8Array(440).fill(0x90);
    installMbr.set(Buffer.from('1234F\0\0A', 'latin1'), 0x1a0);
    assert.equal(recogniseBootCode(sector(installMbr, table)).kind, 'install-mbr');
    // GRUB 2's boot.img: its messages (grub-core/boot/i386/pc/boot.S).
    const grub = new Uint8Array(440).fill(0x90);
    grub.set(Buffer.from('GRUB \0Geom\0Hard Disk\0Read\0 Error\r\n\0', 'latin1'), 0x17c);
    assert.deepEqual(recogniseBootCode(sector(grub, table)), { kind: 'grub', name: "GRUB's boot.img", bootsActive: false, text: ['GRUB', 'Geom', 'Hard Disk', 'Read', 'Error'] });
    const other = new Uint8Array(440).fill(0x90);
    other.set(Buffer.from('LILO booting', 'latin1'), 0x20);
    assert.deepEqual(recogniseBootCode(sector(other, table)), { kind: 'unknown', name: 'boot code of no known boot loader', bootsActive: false, text: ['LILO booting'] });
  });

  it("reads od's output of an MBR sfdisk wrote to an image file", () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-mbr-'));
    dirs.push(dir);
    const image = join(dir, 'disk.img');
    writeFileSync(image, '');
    execFileSync('truncate', ['-s', '64M', image]);
    execFileSync('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', image], { input: 'label: dos\n,16M,7,*\n,,7\n' });
    const od = execFileSync('od', ['-An', '-v', '-tx1', '-N512', '--', image], { encoding: 'utf8' });
    const mbr = parseMbr(bytesOfOd(od)!);
    assert.equal(mbr?.scheme, 'dos');
    assert.deepEqual(mbr?.partitions.map(describePartition), ['partition 1: type 0x07 (NTFS), 16 MiB, active', 'partition 2: type 0x07 (NTFS), 47 MiB']);
    assert.equal(mbr?.bootCode.kind, 'none', 'sfdisk writes no boot code');
    assert.equal(bytesOfOd('00 11 zz'), null);
  });
});
