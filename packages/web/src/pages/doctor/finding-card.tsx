/**
 * One finding of the doctor: severity, check, summary, evidence (a file's line, a command's output)
 * and its fix. Fix and Undo each ask first in a confirm dialog saying what will change; while the
 * rescue system works, the card says so; once applied, it lists the changed files and their copies;
 * a failed fix or undo shows the catalogue's sentence for its code.
 */
import type { DoctorFinding, DoctorFixAnswer, DoctorView } from '@lifeboat/core/api';
import { useMutation } from '@tanstack/react-query';
import { useState } from 'react';
import { ConfirmDialog } from '../../ui/confirm-dialog.js';
import { ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { changedFiles, evidenceSource, fixActivity } from './doctor-state.js';

const severityTone: Record<DoctorFinding['severity'], string> = { critical: 'danger', warning: 'warning', info: 'neutral' };

/** The card; `fixable` false shows the fix read-only (outside rescue, the last rescue's report). */
export function FindingCard({ server, view, finding, fixable, onAsked }: {
  readonly server: string;
  readonly view: DoctorView;
  readonly finding: DoctorFinding;
  readonly fixable: boolean;
  readonly onAsked: (answer: DoctorFixAnswer) => void;
}) {
  const { t } = usePage();
  const check = t(`doctor.check.${finding.check}`);
  const titleId = `finding-${finding.id}`;
  return (
    <article className="finding" aria-labelledby={titleId} data-finding={finding.id}>
      <header className="row finding-head">
        <h3 id={titleId}>
          <span className={`badge badge-${severityTone[finding.severity]}`}>{t(`doctor.severity.${finding.severity}`)}</span> {check}
        </h3>
        <code className="meta" translate="no">
          {finding.id}
        </code>
      </header>
      <p>{finding.summary}</p>
      {finding.evidence.length > 0 && (
        <>
          <h4>{t('doctor.evidence')}</h4>
          <ul className="evidence">
            {finding.evidence.map((evidence, index) => (
              <li key={index}>
                <Evidence evidence={evidence} label={`${check}: ${t('doctor.evidence')} ${index + 1}`} />
              </li>
            ))}
          </ul>
        </>
      )}
      {finding.fix && <FixPanel server={server} view={view} finding={finding as FixableFinding} check={check} fixable={fixable} onAsked={onAsked} />}
    </article>
  );
}

type FixableFinding = DoctorFinding & { readonly fix: NonNullable<DoctorFinding['fix']> };

function Evidence({ evidence, label }: { readonly evidence: DoctorFinding['evidence'][number]; readonly label: string }) {
  const { t } = usePage();
  const source = evidenceSource(evidence);
  if (source.kind === 'command') {
    return (
      <>
        <p className="meta">{t('doctor.evidenceCommand', { command: source.command })}</p>
        <pre className="output" tabIndex={0} aria-label={label}>
          {evidence.text}
        </pre>
      </>
    );
  }
  return (
    <p className="evidence-line">
      {source.kind !== 'none' && (
        <span className="meta">
          <code translate="no">{source.kind === 'line' ? `${source.file}:${source.line}` : source.file}</code>{' '}
        </span>
      )}
      <code className="evidence-text" translate="no">
        {evidence.text}
      </code>
    </p>
  );
}

function FixPanel({ server, view, finding, check, fixable, onAsked }: {
  readonly server: string;
  readonly view: DoctorView;
  readonly finding: FixableFinding;
  readonly check: string;
  readonly fixable: boolean;
  readonly onAsked: (answer: DoctorFixAnswer) => void;
}) {
  const { client, t, errorText } = usePage();
  const { fix } = finding;
  const [asking, setAsking] = useState<'fix' | 'undo' | null>(null);
  const ask = useMutation({
    mutationFn: (action: 'fix' | 'undo') => (action === 'fix' ? client.fixFinding(server, finding.id) : client.undoFinding(server, finding.id)),
    onSuccess: onAsked,
  });
  const activity = fixActivity(view, finding.id);
  const busy = ask.isPending || activity.state === 'pending';
  const files = changedFiles(fix);
  const applied = fix.state === 'applied';
  const confirm = () => {
    const action = asking;
    setAsking(null);
    if (action) ask.mutate(action);
  };

  return (
    <div className="fix">
      <h4>
        {t('doctor.fix')} <span className={`badge badge-${applied ? 'success' : 'neutral'}`}>{t(`doctor.fixState.${fix.state}`)}</span>
      </h4>
      <p>{fix.description}</p>
      {applied && files.length > 0 && (
        <>
          <p className="meta">{t('doctor.changed')}</p>
          <ul className="changed-files">
            {files.map(({ file, backup }) => (
              <li key={file}>
                <code translate="no">{file}</code>
                {backup !== null && (
                  <>
                    {' '}
                    {t('doctor.backup')} <code translate="no">{backup}</code>
                  </>
                )}
              </li>
            ))}
          </ul>
          {files.some((f) => f.backup === null) && <p className="hint">{t('doctor.backupBeside')}</p>}
        </>
      )}
      <p className="doctor-activity" role="status">
        {activity.state === 'pending' ? t(activity.action === 'fix' ? 'doctor.applying' : 'doctor.undoing') : ''}
      </p>
      {activity.state === 'failed' && (
        <p className="error" role="alert">
          {t(activity.action === 'fix' ? 'doctor.fixFailed' : 'doctor.undoFailed', { reason: errorText(activity.error) })}
        </p>
      )}
      <ErrorNote error={ask.error} />
      {fixable && (
        <div className="row actions">
          {applied ? (
            <button type="button" disabled={busy} onClick={() => setAsking('undo')} aria-label={t('doctor.undoOf', { check, id: finding.id })}>
              {t('doctor.undo')}
            </button>
          ) : (
            <button type="button" className="primary" disabled={busy} onClick={() => setAsking('fix')} aria-label={t('doctor.fixOf', { check, id: finding.id })}>
              {t('doctor.apply')}
            </button>
          )}
        </div>
      )}
      <ConfirmDialog
        open={asking !== null}
        title={t(asking === 'undo' ? 'doctor.confirm.undoTitle' : 'doctor.confirm.fixTitle', { check })}
        confirmLabel={t(asking === 'undo' ? 'doctor.confirm.undo' : 'doctor.confirm.fix')}
        cancelLabel={t('doctor.confirm.cancel')}
        onConfirm={confirm}
        onCancel={() => setAsking(null)}
      >
        {asking === 'undo' ? (
          <p>{t('doctor.confirm.undoBody', { files: fix.changedFiles?.join(', ') || t('doctor.confirm.theFiles') })}</p>
        ) : (
          <>
            <p>{fix.description}</p>
            <p className="hint">{t(fix.kind === 'root-password' ? 'doctor.confirm.passwordBody' : 'doctor.confirm.fixBody')}</p>
          </>
        )}
      </ConfirmDialog>
    </div>
  );
}
