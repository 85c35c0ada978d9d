// The registry hives of the lab's Windows-like disk. There is no Windows installation here: these
// hives are written from scratch (registry-hive.ts + hivexsh) with the keys and value layouts that
// the tools a rescue uses (chntpw, hivexget, hivexregedit) read, nothing more.
import { regDword, regString, type HiveKey } from './registry-hive.js';

/** Account control bits of a SAM user (the `ACB_*` flags at offset 0x38 of its F value). */
export const accountBits = {
  disabled: 0x0001,
  normal: 0x0010,
  passwordNeverExpires: 0x0200,
  lockedOut: 0x0400,
} as const;

/** A local account of the lab's SAM hive. */
export interface SamUser {
  /** Relative id: 500 is the built-in Administrator, local users start at 1001. */
  rid: number;
  name: string;
  fullName: string;
  /** Sum of {@link accountBits}. */
  bits: number;
  /** Failed logins since the last success (a locked-out account has some). */
  failedLogins: number;
  /**
   * Whether the account has a password. The lab stores 16 arbitrary bytes where Windows keeps the
   * obfuscated NT hash: no one knows a password for it, which is the situation of a rescue.
   */
  hasPassword: boolean;
}

/** The accounts of the lab's Windows disk. */
export const labWindowsUsers: readonly SamUser[] = [
  { rid: 500, name: 'Administrator', fullName: 'Built-in administrator', bits: accountBits.normal | accountBits.disabled, failedLogins: 0, hasPassword: true },
  { rid: 501, name: 'Guest', fullName: '', bits: accountBits.normal | accountBits.disabled, failedLogins: 0, hasPassword: false },
  { rid: 1001, name: 'customer', fullName: 'Locked-out customer', bits: accountBits.normal | accountBits.lockedOut, failedLogins: 5, hasPassword: true },
  { rid: 1002, name: 'operator', fullName: 'Forgotten password', bits: accountBits.normal, failedLogins: 0, hasPassword: true },
];

/** A user's F value (0x50 bytes): RID at 0x30, account bits at 0x38, failed logins at 0x40. */
export function userF(user: Pick<SamUser, 'rid' | 'bits' | 'failedLogins'>): Buffer {
  const f = Buffer.alloc(0x50);
  f.writeUInt16LE(2, 0x00); // revision
  f.writeUInt32LE(user.rid, 0x30);
  f.writeUInt16LE(user.bits, 0x38);
  f.writeUInt16LE(user.failedLogins, 0x40);
  return f;
}

/** What a user's F value says. */
export function readUserF(f: Buffer): { rid: number; bits: number; failedLogins: number } {
  return { rid: f.readUInt32LE(0x30), bits: f.readUInt16LE(0x38), failedLogins: f.readUInt16LE(0x40) };
}

/**
 * A SAM record as Windows lays them out: a fixed table of (offset, length) pairs, offsets counted
 * from the end of the table, then the data, each field 4-byte aligned. `fields` gives each field's
 * place in the table and its bytes, in data order.
 */
function offsetTableRecord(table: Buffer, fields: [at: number, data: Buffer][]): Buffer {
  const chunks: Buffer[] = [];
  let length = 0;
  for (const [at, data] of fields) {
    table.writeUInt32LE(length, at);
    table.writeUInt32LE(data.length, at + 4);
    const padded = Buffer.alloc((data.length + 3) & ~3);
    data.copy(padded);
    chunks.push(padded);
    length += padded.length;
  }
  return Buffer.concat([table, ...chunks]);
}

/** Offsets (in the 0xCC-byte table at the start of a V value) of the fields the lab fills. */
const vField = {
  securityDescriptor: 0x04,
  name: 0x0c,
  fullName: 0x18,
  comment: 0x24,
  homeDir: 0x48,
  homeDrive: 0x54,
  logonScript: 0x60,
  profilePath: 0x6c,
  lmHash: 0x9c,
  ntHash: 0xa8,
} as const;
const vDataStart = 0xcc;

/**
 * A user's V value: a table of (offset, length) pairs, offsets counted from byte 0xCC, then the
 * data, each field 4-byte aligned. chntpw refuses a V whose user name sits at offset 0, so a
 * security descriptor comes first, as in Windows' own SAM.
 */
export function userV(user: Pick<SamUser, 'rid' | 'name' | 'fullName' | 'hasPassword'>): Buffer {
  const descriptor = Buffer.alloc(20);
  descriptor.writeUInt8(1, 0);
  descriptor.writeUInt16LE(0x8004, 2);
  // The pre-Windows 10 1607 layout: a 4-byte header (revision 2) and the 16-byte RC4-obfuscated hash.
  const ntHash = Buffer.alloc(user.hasPassword ? 20 : 0);
  if (user.hasPassword) {
    ntHash.writeUInt32LE(0x00010002, 0);
    for (let i = 4; i < 20; i++) ntHash[i] = (user.rid * 31 + i * 17) & 0xff;
  }
  const empty = Buffer.alloc(0);
  return offsetTableRecord(Buffer.alloc(vDataStart), [
    [vField.securityDescriptor, descriptor],
    [vField.name, Buffer.from(user.name, 'utf16le')],
    [vField.fullName, Buffer.from(user.fullName, 'utf16le')],
    ...[vField.comment, vField.homeDir, vField.homeDrive, vField.logonScript, vField.profilePath, vField.lmHash].map((at): [number, Buffer] => [at, empty]),
    [vField.ntHash, ntHash],
  ]);
}

/** What a user's V value says: its name and the length of its stored NT hash (0: blank password). */
export function readUserV(v: Buffer): { name: string; ntHashBytes: number } {
  const at = (field: number): [number, number] => [vDataStart + v.readUInt32LE(field), v.readUInt32LE(field + 4)];
  const [nameAt, nameBytes] = at(vField.name);
  return { name: v.subarray(nameAt, nameAt + nameBytes).toString('utf16le'), ntHashBytes: v.readUInt32LE(vField.ntHash + 4) };
}

/** A user's key under `SAM\Domains\Account\Users`: its RID in 8 upper-case hex digits. */
export function userKeyName(rid: number): string {
  return rid.toString(16).toUpperCase().padStart(8, '0');
}

/** The lab machine's SID, S-1-5-21-X-Y-Z: its sub-authorities. */
export const labMachineSid = [21, 1_402_664_001, 2_718_281_828, 3_141_592_653] as const;

/** A SID as Windows stores it: revision 1, count, 48-bit authority 5 (NT), sub-authorities (LE). */
export function sidBytes(subAuthorities: readonly number[]): Buffer {
  const b = Buffer.alloc(8 + 4 * subAuthorities.length);
  b.writeUInt8(1, 0);
  b.writeUInt8(subAuthorities.length, 1);
  b.writeUInt8(5, 7);
  subAuthorities.forEach((n, i) => b.writeUInt32LE(n >>> 0, 8 + 4 * i));
  return b;
}

/** `S-1-5-21-...`: the name of a machine's key under `Aliases\Members`. */
export function sidString(subAuthorities: readonly number[]): string {
  return `S-1-5-${subAuthorities.join('-')}`;
}

/**
 * The domain's V value, as chntpw reads the machine SID from it: offset (from 0x40) at 0x38, and at
 * 0x3c the SID's length minus 4 (chntpw adds the 4 back and expects 24 bytes).
 */
export function accountV(machineSid: readonly number[]): Buffer {
  const sid = sidBytes(machineSid);
  const v = Buffer.alloc(0x40 + sid.length);
  v.writeUInt32LE(0, 0x38);
  v.writeUInt32LE(sid.length - 4, 0x3c);
  sid.copy(v, 0x40);
  return v;
}

/** Built-in aliases (local groups) chntpw's promote works with. */
export const builtinAliases = { administrators: 0x220, users: 0x221, guests: 0x222 } as const;

/**
 * An alias's C value: a 0x34-byte table (id; name, comment and member list as offset/length from
 * 0x34; member count at 0x30), then UTF-16 name and comment and the members' SIDs.
 */
export function aliasC(id: number, name: string, comment: string, members: Buffer[]): Buffer {
  const table = Buffer.alloc(0x34);
  table.writeUInt32LE(id, 0x00);
  table.writeUInt32LE(0x00010002, 0x0c);
  table.writeUInt32LE(members.length, 0x30);
  return offsetTableRecord(table, [
    [0x10, Buffer.from(name, 'utf16le')],
    [0x1c, Buffer.from(comment, 'utf16le')],
    [0x28, Buffer.concat(members)],
  ]);
}

/** The built-in aliases each lab account belongs to (Windows' defaults for such accounts). */
function aliasesOf(user: SamUser): number[] {
  if (user.rid === 500) return [builtinAliases.administrators];
  if (user.rid === 501) return [builtinAliases.guests];
  return [builtinAliases.users];
}

/**
 * The keys of a SAM hive with these users: `Account` (F, and V with the machine SID),
 * `Users\<RID>` with F and V, `Users\Names\<name>`, the built-in aliases' C values and, per user,
 * `Builtin\Aliases\Members\<machine SID>\<RID>` (default value: type = number of aliases, data =
 * their ids), which is where chntpw reads and writes group membership.
 */
export function samHiveKeys(users: readonly SamUser[], machineSid: readonly number[] = labMachineSid): HiveKey[] {
  const account = ['SAM', 'Domains', 'Account'];
  const aliases = ['SAM', 'Domains', 'Builtin', 'Aliases'];
  const userSid = (rid: number): Buffer => sidBytes([...machineSid, rid]);
  const aliasKey = (id: number, name: string, comment: string): HiveKey => ({
    path: [...aliases, userKeyName(id)],
    values: [{ name: 'C', type: 3, data: aliasC(id, name, comment, users.filter((u) => aliasesOf(u).includes(id)).map((u) => userSid(u.rid))) }],
  });
  return [
    {
      path: account,
      values: [
        { name: 'F', type: 3, data: Buffer.alloc(0x68) },
        { name: 'V', type: 3, data: accountV(machineSid) },
      ],
    },
    { path: [...account, 'Users', 'Names'] },
    ...users.flatMap((user) => [
      {
        path: [...account, 'Users', userKeyName(user.rid)],
        values: [
          { name: 'F', type: 3, data: userF(user) },
          { name: 'V', type: 3, data: userV(user) },
        ],
      },
      // The RID is the *type* of the name key's default value, whose data is empty.
      { path: [...account, 'Users', 'Names', user.name], values: [{ name: '@', type: user.rid, data: Buffer.alloc(0) }] },
    ]),
    aliasKey(builtinAliases.administrators, 'Administrators', 'Administrators have complete and unrestricted access'),
    aliasKey(builtinAliases.users, 'Users', 'Users are prevented from making system-wide changes'),
    aliasKey(builtinAliases.guests, 'Guests', 'Guests have the same access as members of the Users group by default'),
    { path: [...aliases, 'Names'] },
    { path: ['SAM', 'Domains', 'Account', 'Aliases', 'Members', sidString(machineSid)] },
    ...users.map((user) => {
      const ids = aliasesOf(user);
      const data = Buffer.alloc(4 * ids.length);
      ids.forEach((id, i) => data.writeUInt32LE(id, 4 * i));
      return { path: [...aliases, 'Members', sidString(machineSid), userKeyName(user.rid)], values: [{ name: '@', type: ids.length, data }] };
    }),
  ];
}

/** The lab's Windows computer name (SYSTEM hive). */
export const labWindowsComputerName = 'LAB-WIN';

/**
 * Keys of the SYSTEM hive: the current control set, the computer name, fast startup switched on
 * (`HiberbootEnabled`) and a disabled virtio network driver (`netkvm`, Start = 4), the registry
 * state a rescue re-enables a network card from.
 */
export function systemHiveKeys(): HiveKey[] {
  const control = ['ControlSet001', 'Control'];
  return [
    {
      path: ['Select'],
      values: ['Current', 'Default', 'LastKnownGood'].map((name) => ({ name, type: 4, data: regDword(1) })).concat({ name: 'Failed', type: 4, data: regDword(0) }),
    },
    { path: [...control, 'ComputerName', 'ComputerName'], values: [{ name: 'ComputerName', type: 1, data: regString(labWindowsComputerName) }] },
    { path: [...control, 'Session Manager', 'Power'], values: [{ name: 'HiberbootEnabled', type: 4, data: regDword(1) }] },
    {
      path: ['ControlSet001', 'Services', 'netkvm'],
      values: [
        { name: 'Start', type: 4, data: regDword(4) },
        { name: 'Type', type: 4, data: regDword(1) },
        { name: 'ImagePath', type: 2, data: regString('\\SystemRoot\\System32\\drivers\\netkvm.sys') },
      ],
    },
  ];
}

/** The boot manager's well-known BCD object. */
export const bootManagerObject = '{9dea862c-5cdd-4e70-acc1-f32b344d4795}';
/** The lab's Windows loader entry in the BCD. */
export const windowsLoaderObject = '{6a1f6f8e-1d41-4b1e-9a1c-1ab0a7e0b001}';

/** Keys of the BCD hive on the ESP: the boot manager, pointing at one Windows loader. */
export function bcdHiveKeys(): HiveKey[] {
  const element = (object: string, id: string, data: Buffer, type = 1): HiveKey => ({
    path: ['Objects', object, 'Elements', id],
    values: [{ name: 'Element', type, data }],
  });
  return [
    { path: ['Description'], values: [{ name: 'KeyName', type: 1, data: regString('BCD00000000') }] },
    { path: ['Objects', bootManagerObject, 'Description'], values: [{ name: 'Type', type: 4, data: regDword(0x10100002) }] },
    element(bootManagerObject, '12000004', regString('Windows Boot Manager')),
    element(bootManagerObject, '23000003', regString(windowsLoaderObject)),
    { path: ['Objects', windowsLoaderObject, 'Description'], values: [{ name: 'Type', type: 4, data: regDword(0x10200003) }] },
    element(windowsLoaderObject, '12000002', regString('\\Windows\\system32\\winload.efi')),
    element(windowsLoaderObject, '12000004', regString('Windows (lab)')),
  ];
}
