/** The doctor's report as text, as `rescue-doctor` prints it (the agent writes it beside the JSON). */
import type { DoctorReport } from '@lifeboat/core/api';

const severityOrder = { critical: 0, warning: 1, info: 2 } as const;

/** Renders a report for a terminal: one block per finding, most severe first, with evidence and fix. */
export function reportText(report: DoctorReport): string {
  const lines: string[] = [];
  const on = report.installedSystem ? ` of ${report.installedSystem}` : '';
  if (report.state === 'running') {
    lines.push(`The doctor is examining the installed system (since ${report.startedAt}).`);
    return `${lines.join('\n')}\n`;
  }
  if (report.state === 'failed') {
    lines.push(`The doctor could not examine the installed system: ${report.error ?? 'unknown error'}`);
    return `${lines.join('\n')}\n`;
  }
  const took = report.durationMs !== undefined ? ` in ${(report.durationMs / 1000).toFixed(1)} s` : '';
  const open = report.findings.filter((f) => f.fix?.state !== 'applied');
  lines.push(`Doctor's examination${on}, ${report.finishedAt ?? report.startedAt}${took}: ${open.length === 0 ? 'nothing wrong found' : `${open.length} finding(s)`}.`);
  if (report.error) lines.push(`(${report.error})`);
  const sorted = [...report.findings].sort((a, b) => severityOrder[a.severity] - severityOrder[b.severity]);
  for (const f of sorted) {
    lines.push('');
    lines.push(`[${f.severity.toUpperCase()}] ${f.id} (${f.check})${f.fix?.state === 'applied' ? ' - FIXED' : ''}`);
    lines.push(`  ${f.summary}`);
    for (const e of f.evidence) {
      const where = e.file ? `${e.file}${e.line !== undefined ? `:${e.line}` : ''}` : (e.command ?? '');
      const text = e.text.split('\n');
      lines.push(`  ${where ? `${where}: ` : ''}${text[0] ?? ''}`);
      for (const more of text.slice(1, 12)) lines.push(`      ${more}`);
    }
    if (f.fix) {
      if (f.fix.state === 'applied') lines.push(`  fixed (${f.fix.kind}): ${(f.fix.changedFiles ?? []).join(', ')}; undo: lifeboat doctor undo SERVER ${f.id}`);
      else lines.push(`  fix (${f.fix.kind}): ${f.fix.description}\n  apply: lifeboat doctor fix SERVER ${f.id}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
