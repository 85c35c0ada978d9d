/**
 * Applying and undoing a doctor fix on the installed system mounted read-write at `root`: each
 * changed file is first copied beside itself as `FILE.lifeboat-<UTC time>` (a removed symlink is kept
 * as a symlink of that name), and undo puts the copies back (byte for byte, `cp -p`) and removes them.
 * A file that changed since the check (or since the fix, for undo) is refused: `DOCTOR_FILE_CHANGED`.
 */
import { LifeboatError } from '@lifeboat/core/errors';
import { digestOf } from './checks.js';
import type { EditSpec, FixStep } from './checks.js';
import { dirnameOf, joinPath, runChecked } from '../platform.js';
import type { Platform } from '../platform.js';

/** `20261130T141500Z`: the suffix of a fix's copies. */
export function backupStamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/** One change made by an applied fix, as recorded for its undo. */
export interface AppliedChange {
  readonly op: FixStep['op'];
  /** The path in the installed system (`/etc/fstab`). */
  readonly path: string;
  /** The copy of the file as it was (`/etc/fstab.lifeboat-20261130T141500Z`), null for a link the fix created. */
  readonly backup: string | null;
  /** edit: the digest of the file as the fix left it; links: their target. */
  readonly after: string;
}

/** A file's new text after an edit; throws `DOCTOR_FIX_FAILED` when the edit no longer fits the file. */
export function applyEdit(text: string, edit: EditSpec, params: { passwordHash?: string } = {}): string {
  const lines = text.split('\n');
  const at = (n: number): string => {
    const line = lines[n - 1];
    if (line === undefined) throw new LifeboatError('DOCTOR_EDIT_FAILED', `line ${n} is not in the file any more`);
    return line;
  };
  switch (edit.kind) {
    case 'add-option': {
      const line = at(edit.line);
      const m = /^(\s*\S+\s+\S+\s+\S+\s+)(\S+)(.*)$/.exec(line);
      if (m) {
        const options = (m[2] as string).split(',');
        if (!options.includes(edit.option)) lines[edit.line - 1] = `${m[1]}${[...options, edit.option].join(',')}${m[3]}`;
      } else {
        const fields = /^(\s*\S+\s+\S+)(?:\s+(\S+))?\s*$/.exec(line);
        if (!fields) throw new LifeboatError('DOCTOR_EDIT_FAILED', `line ${edit.line} is not an fstab entry`);
        lines[edit.line - 1] = `${fields[1]} ${fields[2] ?? 'auto'} defaults,${edit.option} 0 0`;
      }
      return lines.join('\n');
    }
    case 'comment-lines':
      for (const n of edit.lines) {
        const line = at(n);
        if (!/^\s*#/.test(line)) lines[n - 1] = `# ${line} # commented out by the Lifeboat doctor: sshd -t rejected it`;
      }
      return lines.join('\n');
    case 'rename-interface': {
      const word = new RegExp(`(^|[^A-Za-z0-9_.-])${edit.from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=$|[^A-Za-z0-9_-])`, 'g');
      for (const n of edit.lines) lines[n - 1] = at(n).replace(word, `$1${edit.to}`);
      return lines.join('\n');
    }
    case 'set-key': {
      const index = lines.findIndex((l) => new RegExp(`^\\s*${edit.key}\\s*=`).test(l));
      if (index < 0) lines.push(`${edit.key}=${edit.value}`);
      else lines[index] = `${edit.key}=${edit.value}`;
      return lines.join('\n');
    }
    case 'root-password': {
      const hash = params.passwordHash ?? '';
      if (!/^\$(6|5|y|2[aby]|1)\$[^:\n]+$/.test(hash)) throw new LifeboatError('DOCTOR_FIX_INVALID', 'root-password needs passwordHash: a crypt hash ($6$...)');
      const index = lines.findIndex((l) => l.startsWith('root:'));
      if (index < 0) throw new LifeboatError('DOCTOR_EDIT_FAILED', 'root is not in /etc/shadow any more');
      const fields = (lines[index] as string).split(':');
      fields[1] = hash;
      // The last change is today (days since 1970): no "password expired" at the first login.
      if (fields.length > 2) fields[2] = String(Math.floor(Date.now() / 86_400_000));
      lines[index] = fields.join(':');
      return lines.join('\n');
    }
  }
}

/** What a link points at, or null when `path` is no symlink. */
async function linkTarget(platform: Platform, path: string): Promise<string | null> {
  const result = await platform.run('readlink', ['--', path]);
  return result.status === 0 ? result.stdout.replace(/\n$/, '') : null;
}

async function readOrNull(platform: Platform, path: string): Promise<string | null> {
  try {
    return await platform.readText(path);
  } catch {
    return null;
  }
}

function changed(path: string, why: string): LifeboatError {
  return new LifeboatError('DOCTOR_FILE_CHANGED', `${path} ${why}: run the doctor again (rescue-doctor --rerun) and look before fixing`);
}

/**
 * Checks that every file is still as the check saw it (before anything is written: a refused fix
 * changes nothing), then applies the steps. Returns the changes for the undo.
 */
export async function applySteps(
  platform: Platform,
  root: string,
  steps: readonly FixStep[],
  stamp: string,
  params: { passwordHash?: string } = {},
): Promise<AppliedChange[]> {
  const at = (p: string): string => joinPath(root, p);
  const planned: Array<{ step: FixStep; text?: string }> = [];
  for (const step of steps) {
    if (step.op === 'edit') {
      const text = await readOrNull(platform, at(step.path));
      if (text === null) throw changed(step.path, 'is gone');
      if (digestOf(text) !== step.digest) throw changed(step.path, 'changed since the check');
      planned.push({ step, text: applyEdit(text, step.edit, params) });
    } else if (step.op === 'unlink') {
      if ((await linkTarget(platform, at(step.path))) !== step.target) throw changed(step.path, 'changed since the check');
      planned.push({ step });
    } else {
      if (platform.exists(at(step.path)) || (await linkTarget(platform, at(step.path))) !== null) throw changed(step.path, 'exists now');
      planned.push({ step });
    }
  }
  const changes: AppliedChange[] = [];
  for (const { step, text } of planned) {
    const full = at(step.path);
    const backup = `${step.path}.lifeboat-${stamp}`;
    if (step.op === 'edit') {
      await runChecked(platform, 'cp', ['-p', '--', full, at(backup)]);
      // Written through a copy in the rescue's RAM, then `cp` onto the file: its inode, mode and owner stay.
      const staged = joinPath(root === '/' ? '/run' : dirnameOf(root), `lifeboat-doctor-${stamp}.tmp`);
      await platform.writeText(staged, text as string, 0o600);
      try {
        await runChecked(platform, 'cp', ['--', staged, full]);
      } finally {
        await platform.run('rm', ['-f', '--', staged]);
      }
      changes.push({ op: 'edit', path: step.path, backup, after: digestOf(text as string) });
    } else if (step.op === 'unlink') {
      await runChecked(platform, 'mv', ['-T', '--', full, at(backup)]);
      changes.push({ op: 'unlink', path: step.path, backup, after: step.target });
    } else {
      await runChecked(platform, 'mkdir', ['-p', '--', dirnameOf(full)]);
      await runChecked(platform, 'ln', ['-s', '--', step.target, full]);
      changes.push({ op: 'symlink', path: step.path, backup: null, after: step.target });
    }
  }
  return changes;
}

/** Puts back what {@link applySteps} changed (last change first), after checking nothing changed since. */
export async function undoChanges(platform: Platform, root: string, changes: readonly AppliedChange[]): Promise<void> {
  const at = (p: string): string => joinPath(root, p);
  for (const change of changes) {
    if (change.op === 'edit') {
      const text = await readOrNull(platform, at(change.path));
      if (text === null || digestOf(text) !== change.after) throw changed(change.path, 'changed since the fix');
      if (change.backup === null || !platform.exists(at(change.backup))) throw changed(change.backup ?? change.path, 'is gone (the copy of the file before the fix)');
    } else if (change.op === 'unlink') {
      if (platform.exists(at(change.path)) || (await linkTarget(platform, at(change.path))) !== null) throw changed(change.path, 'exists again');
      if (change.backup === null || (await linkTarget(platform, at(change.backup))) !== change.after) throw changed(change.backup ?? change.path, 'is gone (the link before the fix)');
    } else if ((await linkTarget(platform, at(change.path))) !== change.after) throw changed(change.path, 'changed since the fix');
  }
  for (const change of [...changes].reverse()) {
    if (change.op === 'edit') {
      await runChecked(platform, 'cp', ['-p', '--', at(change.backup as string), at(change.path)]);
      await runChecked(platform, 'rm', ['-f', '--', at(change.backup as string)]);
    } else if (change.op === 'unlink') {
      await runChecked(platform, 'mv', ['-T', '--', at(change.backup as string), at(change.path)]);
    } else {
      await runChecked(platform, 'rm', ['-f', '--', at(change.path)]);
    }
  }
}
