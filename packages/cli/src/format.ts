/** Human-readable output: tables, key/value blocks, task timelines. */

/** Formats rows as an aligned table with a header. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** Formats `key: value` lines, skipping empty values. */
export function block(entries: ReadonlyArray<readonly [string, string | number | null | undefined]>): string {
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v}`)
    .join('\n');
}

/** A task step as the API shows it. */
export interface StepView {
  readonly name: string;
  readonly title: string;
  readonly state: string;
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly detail: string | null;
}

/** A task as the API shows it. */
export interface TaskView {
  readonly id: string;
  readonly kind: string;
  readonly state: string;
  readonly createdAt: string;
  readonly endedAt: string | null;
  readonly steps: readonly StepView[];
}

const marks: Record<string, string> = { completed: '✓', failed: '✗', running: '…', pending: ' ', skipped: '-' };

/** One step line: mark, title, time since the task started, detail. */
export function stepLine(task: TaskView, step: StepView): string {
  const at = step.endedAt ?? step.startedAt;
  const offset = at ? `+${((Date.parse(at) - Date.parse(task.createdAt)) / 1000).toFixed(1)}s` : '';
  return `  ${marks[step.state] ?? '?'} ${step.title.padEnd(26)} ${offset.padStart(8)}${step.detail ? `  ${step.detail}` : ''}`;
}

/** A task with its timeline. */
export function taskBlock(task: TaskView): string {
  const title = `${task.kind.replace(/_/g, ' ')}  ${task.state}  ${task.createdAt}`;
  return [title, ...task.steps.map((s) => stepLine(task, s))].join('\n');
}
