/**
 * The boot timeline of a server's newest task: each step as it happens (the SSE stream invalidates
 * the tasks query), its state as text and mark, its time and detail. New steps are announced by the
 * list's live region.
 */
import type { StepView, TaskView } from '@lifeboat/core/api';
import { useI18n } from '../i18n/i18n.js';

const marks: Record<string, string> = { completed: '✓', running: '…', failed: '✗', skipped: '–', pending: '○' };

function StepItem({ step }: { step: StepView }) {
  const { t, has, dateTime } = useI18n();
  const key = `step.${step.name}`;
  const title = has(key) ? t(key) : step.title;
  const stateKey = `rescue.step.${step.state}`;
  return (
    <li className={`step step-${step.state}`} data-step={step.name}>
      <span className="step-mark" aria-hidden="true">
        {marks[step.state] ?? '•'}
      </span>
      <span className="step-title">{title}</span>
      <span className="step-state">{has(stateKey) ? t(stateKey) : step.state}</span>
      {step.startedAt && (
        <time className="step-time muted" dateTime={step.endedAt ?? step.startedAt}>
          {dateTime(step.endedAt ?? step.startedAt)}
        </time>
      )}
      {step.detail && <span className="step-detail muted">{step.detail}</span>}
    </li>
  );
}

/** The newest task's steps; the ones not reached yet are left out until they start. */
export function BootTimeline({ task }: { task: TaskView | undefined }) {
  const { t, has, dateTime } = useI18n();
  const kindKey = task ? `task.${task.kind}` : '';
  return (
    <section className="card" aria-labelledby="timeline-title">
      <h2 id="timeline-title">{t('rescue.timeline')}</h2>
      {!task ? (
        <p className="muted">{t('rescue.timelineEmpty')}</p>
      ) : (
        <>
          <p className="muted">{has(kindKey) ? t(kindKey, { at: dateTime(task.createdAt) }) : t('task.other', { kind: task.kind, at: dateTime(task.createdAt) })}</p>
          <ol className="timeline" aria-live="polite" aria-relevant="additions text" data-task={task.id}>
            {task.steps
              .filter((step) => step.state !== 'pending')
              .map((step) => (
                <StepItem key={step.name} step={step} />
              ))}
          </ol>
        </>
      )}
    </section>
  );
}
