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
  const table = Buffer.alloc(vDataStart);
  const chunks: Buffer[] = [];
  let length = 0;
  const put = (at: number, data: Buffer): void => {
    table.writeUInt32LE(length, at);
    table.writeUInt32LE(data.length, at + 4);
    const padded = Buffer.alloc((data.length + 3) & ~3);
    data.copy(padded);
    chunks.push(padded);
    length += padded.length;
  };
  const descriptor = Buffer.alloc(20);
  descriptor.writeUInt8(1, 0);
  descriptor.writeUInt16LE(0x8004, 2);
  put(vField.securityDescriptor, descriptor);
  put(vField.name, Buffer.from(user.name, 'utf16le'));
  put(vField.fullName, Buffer.from(user.fullName, 'utf16le'));
  for (const at of [vField.comment, vField.homeDir, vField.homeDrive, vField.logonScript, vField.profilePath]) put(at, Buffer.alloc(0));
  put(vField.lmHash, Buffer.alloc(0));
  // The pre-Windows 10 1607 layout: a 4-byte header (revision 2) and the 16-byte RC4-obfuscated hash.
  const ntHash = Buffer.alloc(user.hasPassword ? 20 : 0);
  if (user.hasPassword) {
    ntHash.writeUInt32LE(0x00010002, 0);
    for (let i = 4; i < 20; i++) ntHash[i] = (user.rid * 31 + i * 17) & 0xff;
  }
  put(vField.ntHash, ntHash);
  return Buffer.concat([table, ...chunks]);
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

/** The keys of a SAM hive with these users (`Users\<RID>` with F and V, `Users\Names\<name>`). */
export function samHiveKeys(users: readonly SamUser[]): HiveKey[] {
  const account = ['SAM', 'Domains', 'Account'];
  return [
    { path: account, values: [{ name: 'F', type: 3, data: Buffer.alloc(0x68) }] },
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
    { path: ['SAM', 'Domains', 'Builtin', 'Aliases', 'Names'] },
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
