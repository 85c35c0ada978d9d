/**
 * A disk's first sector, the master boot record (MBR), as the BIOS reads it: its boot code (bytes
 * 0-439), its four primary partition entries (446-509, the active flag 0x80 in each) and the 55 AA
 * signature. Pure functions over the bytes (`od`'s output in the rescue), bundled for QuickJS.
 */

/** What runs first from the MBR, as far as its bytes tell. */
export type BootCodeKind = 'none' | 'windows' | 'syslinux' | 'install-mbr' | 'grub' | 'unknown';

/** One used primary partition entry. */
export interface MbrPartition {
  /** 1 to 4, as Linux numbers the primary partitions (`/dev/sda1`). */
  readonly number: number;
  /** The status byte is 0x80: the partition Windows' boot code (and syslinux's, install-mbr's) starts. */
  readonly active: boolean;
  /** The partition type byte (0x07: NTFS, 0x0f/0x05: extended, 0xee: GPT's protective entry). */
  readonly type: number;
  readonly startSector: number;
  readonly sectors: number;
}

/** The boot code of an MBR, recognised. */
export interface MbrBootCode {
  readonly kind: BootCodeKind;
  /** What it is, in words: `Windows' (Vista or later)`, `no boot code (all zero)`. */
  readonly name: string;
  /** Whether it starts the active partition's boot sector (Windows', syslinux's mbr.bin, install-mbr's). */
  readonly bootsActive: boolean;
  /** Its text (messages, runs of 4 or more printable characters), for the evidence. */
  readonly text: readonly string[];
}

/** A disk's first sector, read. */
export interface MasterBootRecord {
  /** `dos`: an MBR partition table; `gpt`: the protective MBR of a GPT disk; `none`: no 55 AA signature. */
  readonly scheme: 'dos' | 'gpt' | 'none';
  readonly partitions: readonly MbrPartition[];
  readonly bootCode: MbrBootCode;
}

/** The bytes of `od -An -v -tx1` output (hex pairs separated by blanks and new lines); null when it holds anything else. */
export function bytesOfOd(output: string): Uint8Array | null {
  const pairs = output.trim().split(/\s+/).filter((p) => p !== '');
  if (pairs.some((p) => !/^[0-9a-f]{2}$/i.test(p))) return null;
  return Uint8Array.from(pairs.map((p) => parseInt(p, 16)));
}

const uint32 = (b: Uint8Array, at: number): number => ((b[at] ?? 0) | ((b[at + 1] ?? 0) << 8) | ((b[at + 2] ?? 0) << 16)) + (b[at + 3] ?? 0) * 0x1000000;

/** Whether `bytes` holds `pattern` (a latin1 string) anywhere. */
function holds(bytes: Uint8Array, pattern: string): boolean {
  const first = pattern.charCodeAt(0);
  for (let i = bytes.indexOf(first); i >= 0 && i + pattern.length <= bytes.length; i = bytes.indexOf(first, i + 1)) {
    let j = 1;
    while (j < pattern.length && bytes[i + j] === pattern.charCodeAt(j)) j++;
    if (j === pattern.length) return true;
  }
  return false;
}

/** The messages in boot code: runs of printable ASCII (what `strings` prints) made of words, not code bytes that happen to be printable. */
function printableRuns(bytes: Uint8Array): string[] {
  return [...String.fromCharCode(...bytes).matchAll(/[\x20-\x7e]{4,}/g)].map((m) => m[0].trim()).filter((s) => /^[A-Za-z][A-Za-z .,:;!?'()-]{3,}$/.test(s));
}

/**
 * The three messages of Microsoft's MBR code (DOS to Windows 11), whatever their language: the bytes
 * at 0x1B5-0x1B7 give where each starts (minus 0x100), as zero-terminated strings in the code; the code
 * starts by setting up its stack below 0x7C00 (`33 C0 8E D0 BC 00 7C`). Null when the code is not built so.
 */
function microsoftMessages(code: Uint8Array): string[] | null {
  const prologue = [0x33, 0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x7c];
  if (prologue.some((b, i) => code[i] !== b)) return null;
  const messages: string[] = [];
  let previous = 0;
  for (const at of [0x1b5, 0x1b6, 0x1b7]) {
    const start = 0x100 + (code[at] ?? 0);
    const end = code.indexOf(0, start);
    if (start <= previous || end < 0 || end > 0x1b5 || end - start < 4) return null;
    messages.push(String.fromCharCode(...code.subarray(start, end)));
    previous = start;
  }
  return messages;
}

/** Recognises the boot code of an MBR (its bytes 0-439, the 6 bytes of disk signature after them aside). */
export function recogniseBootCode(sector: Uint8Array): MbrBootCode {
  const code = sector.subarray(0, 440);
  if (code.every((b) => b === 0)) return { kind: 'none', name: 'no boot code (all zero)', bootsActive: false, text: [] };
  const text = printableRuns(code);
  const windows = microsoftMessages(sector);
  if (windows) {
    // Vista and later ask the TPM to measure the boot (BitLocker): `cmp ebx, "TCPA"` after int 1Ah.
    const name = holds(code, 'TCPA') ? "Windows' (Vista or later)" : "Windows' (XP or earlier) or DOS'";
    return { kind: 'windows', name, bootsActive: true, text: windows };
  }
  if (holds(code, 'Multiple active partitions.')) return { kind: 'syslinux', name: "syslinux's mbr.bin", bootsActive: true, text };
  // install-mbr's parameters: the keys of its prompt (partitions 1-4, F: floppy, A: advanced).
  if (holds(code, '1234F\0\0A')) return { kind: 'install-mbr', name: "install-mbr's (Debian's mbr)", bootsActive: true, text };
  if (holds(code, 'GRUB ') && holds(code, 'Geom')) return { kind: 'grub', name: "GRUB's boot.img", bootsActive: false, text };
  return { kind: 'unknown', name: 'boot code of no known boot loader', bootsActive: false, text };
}

/** Reads a disk's first sector (512 bytes); null when there are fewer. */
export function parseMbr(sector: Uint8Array): MasterBootRecord | null {
  if (sector.length < 512) return null;
  const signed = sector[510] === 0x55 && sector[511] === 0xaa;
  const partitions: MbrPartition[] = [];
  for (let i = 0; i < 4; i++) {
    const at = 446 + 16 * i;
    const type = sector[at + 4] ?? 0;
    if (type === 0) continue;
    partitions.push({ number: i + 1, active: sector[at] === 0x80, type, startSector: uint32(sector, at + 8), sectors: uint32(sector, at + 12) });
  }
  const scheme = !signed ? 'none' : partitions.some((p) => p.type === 0xee) ? 'gpt' : 'dos';
  return { scheme, partitions: signed ? partitions : [], bootCode: recogniseBootCode(sector) };
}

/** Partition type names of the types a Windows disk holds. */
const typeNames: Readonly<Record<number, string>> = { 0x07: 'NTFS', 0x27: 'Windows recovery', 0x0b: 'FAT32', 0x0c: 'FAT32', 0x05: 'extended', 0x0f: 'extended', 0x83: 'Linux', 0x82: 'Linux swap', 0xef: 'EFI system', 0xee: 'GPT protective' };

/** A partition entry in words: `partition 1: type 0x07 (NTFS), 100 MiB, active`. */
export function describePartition(p: MbrPartition): string {
  const type = `0x${p.type.toString(16).padStart(2, '0')}${typeNames[p.type] ? ` (${typeNames[p.type]})` : ''}`;
  const mib = Math.round((p.sectors * 512) / 1048576);
  return `partition ${p.number}: type ${type}, ${mib} MiB${p.active ? ', active' : ''}`;
}

