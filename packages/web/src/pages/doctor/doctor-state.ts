/**
 * What the doctor section shows of a {@link DoctorView}, as plain functions: findings most serious
 * first, what each finding's fix is doing now (from the session's fixes, newest first), and the
 * changed files paired with the copies kept of them.
 */
import type { DoctorEvidence, DoctorFinding, DoctorFixView, DoctorSeverity, DoctorView } from '@lifeboat/core/api';

const severityRank: Record<DoctorSeverity, number> = { critical: 0, warning: 1, info: 2 };

/** The findings, critical first, then warnings, then information; the agent's order within each. */
export function findingsBySeverity(findings: readonly DoctorFinding[]): DoctorFinding[] {
  return findings.map((finding, index) => ({ finding, index })).sort((a, b) => severityRank[a.finding.severity] - severityRank[b.finding.severity] || a.index - b.index).map(({ finding }) => finding);
}

/** What a finding's fix is doing: nothing asked, a fix or undo waiting for the rescue system, or the last one's outcome. */
export type FixActivity =
  | { readonly state: 'idle' }
  | { readonly state: 'pending'; readonly action: DoctorFixView['action'] }
  | { readonly state: 'failed'; readonly action: DoctorFixView['action']; readonly error: { readonly code: string; readonly message: string } }
  | { readonly state: 'done'; readonly action: DoctorFixView['action'] };

/** The activity of finding `findingId`: its newest fix or undo of the session (`fixes` is newest first). */
export function fixActivity(view: Pick<DoctorView, 'fixes'>, findingId: string): FixActivity {
  const latest = view.fixes.find((fix) => fix.findingId === findingId);
  if (!latest) return { state: 'idle' };
  if (latest.state === 'pending') return { state: 'pending', action: latest.action };
  if (latest.state === 'failed') return { state: 'failed', action: latest.action, error: latest.error ?? { code: 'DOCTOR_FIX_FAILED', message: '' } };
  return { state: 'done', action: latest.action };
}

/** Each changed file with the copy kept of it (null when the rescue system did not name it). */
export function changedFiles(fix: NonNullable<DoctorFinding['fix']>): Array<{ readonly file: string; readonly backup: string | null }> {
  return (fix.changedFiles ?? []).map((file, index) => ({ file, backup: fix.backups?.[index] ?? null }));
}

/** Where a piece of evidence comes from: a file and line, a file, a command, or nothing. */
export type EvidenceSource =
  | { readonly kind: 'line'; readonly file: string; readonly line: number }
  | { readonly kind: 'file'; readonly file: string }
  | { readonly kind: 'command'; readonly command: string }
  | { readonly kind: 'none' };

/** The source of one piece of evidence (a command's output is shown as a block, a file's line inline). */
export function evidenceSource(evidence: DoctorEvidence): EvidenceSource {
  if (evidence.command !== undefined) return { kind: 'command', command: evidence.command };
  if (evidence.file !== undefined && evidence.line !== undefined) return { kind: 'line', file: evidence.file, line: evidence.line };
  if (evidence.file !== undefined) return { kind: 'file', file: evidence.file };
  return { kind: 'none' };
}

/** Whether fixes can be asked now: the report is the rescue in progress's and the server is in rescue. */
export function canFix(view: Pick<DoctorView, 'current'>, serverState: string): boolean {
  return view.current && serverState === 'rescue';
}
