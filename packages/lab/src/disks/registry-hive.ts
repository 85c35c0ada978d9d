import { writeFile } from 'node:fs/promises';
import { run } from './run.js';

/** One value of a registry key: its name (`@` is the key's default value), type and raw bytes. */
export interface HiveValue {
  name: string;
  /**
   * Registry value type: 1 REG_SZ, 3 REG_BINARY, 4 REG_DWORD, ... The SAM stores a user's RID
   * as the *type* of the default value of `Users\Names\<name>`, so any number is allowed.
   */
  type: number;
  data: Buffer;
}

/** A key of a hive, by its path from the root (`['SAM', 'Domains', 'Account']`), with its values. */
export interface HiveKey {
  path: string[];
  values?: HiveValue[];
}

const pageBytes = 0x1000;

/**
 * An empty registry hive file ("regf"): a header page and one 4 KiB bin holding the root key
 * and its security record. hivex edits hives but cannot create one; these bytes are the smallest
 * file `hivexsh -w` and chntpw open (format 1.3, as Windows XP onwards writes).
 */
export function emptyHive(name: string): Buffer {
  const bin = Buffer.alloc(pageBytes);
  bin.write('hbin', 0, 'latin1');
  bin.writeUInt32LE(0, 4); // offset of this bin from the first one
  bin.writeUInt32LE(pageBytes, 8);
  const rootOffset = 0x20;
  const rootCellBytes = 0x58;
  const securityOffset = rootOffset + rootCellBytes;
  // Root key ("nk"): hive entry + no delete + ASCII name; no subkeys, values or class yet.
  const rootName = 'ROOT';
  bin.writeInt32LE(-rootCellBytes, rootOffset);
  const nk = rootOffset + 4;
  bin.write('nk', nk, 'latin1');
  bin.writeUInt16LE(0x2c, nk + 0x02);
  bin.writeUInt32LE(0xffffffff, nk + 0x1c); // subkey list
  bin.writeUInt32LE(0xffffffff, nk + 0x20); // volatile subkey list
  bin.writeUInt32LE(0xffffffff, nk + 0x28); // value list
  bin.writeUInt32LE(securityOffset, nk + 0x2c);
  bin.writeUInt32LE(0xffffffff, nk + 0x30); // class name
  bin.writeUInt16LE(rootName.length, nk + 0x48);
  bin.write(rootName, nk + 0x4c, 'latin1');
  // Security record ("sk"), a ring of one, holding a self-relative descriptor with no owner or DACL.
  const descriptor = Buffer.alloc(20);
  descriptor.writeUInt8(1, 0);
  descriptor.writeUInt16LE(0x8004, 2); // SE_SELF_RELATIVE | SE_DACL_PRESENT
  const securityCellBytes = (4 + 0x14 + descriptor.length + 7) & ~7;
  bin.writeInt32LE(-securityCellBytes, securityOffset);
  const sk = securityOffset + 4;
  bin.write('sk', sk, 'latin1');
  bin.writeUInt32LE(securityOffset, sk + 0x04);
  bin.writeUInt32LE(securityOffset, sk + 0x08);
  bin.writeUInt32LE(1, sk + 0x0c); // reference count
  bin.writeUInt32LE(descriptor.length, sk + 0x10);
  descriptor.copy(bin, sk + 0x14);
  // The rest of the bin is one free cell (positive size).
  const free = securityOffset + securityCellBytes;
  bin.writeInt32LE(pageBytes - free, free);

  const header = Buffer.alloc(pageBytes);
  header.write('regf', 0, 'latin1');
  header.writeUInt32LE(1, 0x04); // primary sequence number
  header.writeUInt32LE(1, 0x08); // secondary sequence number (equal: the hive is consistent)
  header.writeUInt32LE(1, 0x14); // major version
  header.writeUInt32LE(3, 0x18); // minor version
  header.writeUInt32LE(0, 0x1c); // primary file
  header.writeUInt32LE(1, 0x20); // direct memory load
  header.writeUInt32LE(rootOffset, 0x24);
  header.writeUInt32LE(pageBytes, 0x28); // bytes of hive bins
  header.writeUInt32LE(1, 0x2c); // clustering factor
  header.write(name.slice(0, 31), 0x30, 'utf16le');
  let checksum = 0;
  for (let i = 0; i < 0x1fc; i += 4) checksum ^= header.readUInt32LE(i);
  header.writeUInt32LE(checksum >>> 0, 0x1fc);
  return Buffer.concat([header, bin]);
}

function hex(data: Buffer): string {
  return [...data].map((b) => b.toString(16).padStart(2, '0')).join(',');
}

/**
 * The `hivexsh` commands that create `keys` (parents first, each once) and set their values.
 * Key names must not contain a backslash or a newline.
 */
export function hivexshScript(keys: HiveKey[]): string {
  const lines: string[] = [];
  const made = new Set<string>();
  for (const key of keys) {
    for (const part of key.path) {
      if (/[\\\n]/.test(part) || part === '') throw new Error(`invalid registry key name ${JSON.stringify(part)}`);
    }
    lines.push('cd \\');
    key.path.forEach((part, i) => {
      const id = key.path.slice(0, i + 1).join('\\').toLowerCase();
      if (!made.has(id)) {
        lines.push(`add ${part}`);
        made.add(id);
      }
      lines.push(`cd ${part}`);
    });
    const values = key.values ?? [];
    if (values.length > 0) {
      lines.push(`setval ${values.length}`);
      for (const value of values) lines.push(value.name, `hex:${value.type}:${hex(value.data)}`);
    }
  }
  lines.push('commit', '');
  return lines.join('\n');
}

/** Writes a new hive file at `path` (named `name` in its header) holding `keys`, with hivexsh. */
export async function writeHive(path: string, name: string, keys: HiveKey[]): Promise<void> {
  await writeFile(path, emptyHive(name));
  await run('hivexsh', ['-w', path], { input: hivexshScript(keys) });
}

/** A REG_SZ value's bytes (UTF-16LE with its terminating NUL). */
export function regString(text: string): Buffer {
  return Buffer.from(`${text}\0`, 'utf16le');
}

/** A REG_DWORD value's bytes. */
export function regDword(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** The bytes of a REG_BINARY value, read with hivexget (which prints `hex(3):aa,bb,...`). */
export async function readBinaryValue(hive: string, key: string, name: string): Promise<Buffer> {
  const { stdout } = await run('hivexget', [hive, key]);
  const line = stdout.split('\n').find((l) => l.startsWith(`"${name}"=`));
  if (!line) throw new Error(`${key} has no value ${name} in ${hive}`);
  return Buffer.from(line.slice(line.indexOf(':') + 1).replace(/[,\\\s]/g, ''), 'hex');
}
