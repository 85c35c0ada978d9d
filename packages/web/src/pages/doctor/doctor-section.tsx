/**
 * The rescue doctor on a server's page (issue 15): the report's state, each finding (severity, check,
 * summary, evidence) most serious first, and its fix, applied or undone in one step behind a confirm
 * dialog. The report comes from `GET /v1/servers/{name}/doctor` through the query cache, which the
 * shell's event stream replaces at each `doctor` event, so a new report or a fix's answer shows
 * without reload. Outside rescue, the last rescue's report is shown read-only.
 */
import './doctor.css';
import type { DoctorFixAnswer, DoctorView } from '@lifeboat/core/api';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { queryKeys } from '../../api/client.js';
import { errorCode } from '../../i18n/error-message.js';
import { formatDate, formatSeconds } from '../common/format.js';
import { ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { SecretOnce } from '../common/secret-once.js';
import { canFix, findingsBySeverity } from './doctor-state.js';
import { FindingCard } from './finding-card.js';

/** The section; `serverState`: the server's rescue state (fixes are asked only in `rescue`). */
export function DoctorSection({ server, serverState }: { readonly server: string; readonly serverState: string }) {
  const { client, t } = usePage();
  const queryClient = useQueryClient();
  const doctor = useQuery({ queryKey: queryKeys.doctor(server), queryFn: () => client.getDoctor(server) });
  // The new root password of a `root-password` fix: this component's state only, until "I have saved it".
  const [password, setPassword] = useState<string | null>(null);
  const onAsked = (answer: DoctorFixAnswer) => {
    if (answer.password !== undefined) setPassword(answer.password);
    // The pending fix shows at once; the `doctor` event that follows brings the same and then the outcome.
    queryClient.setQueryData<DoctorView>(queryKeys.doctor(server), (view) => {
      if (!view) return view;
      const { password: _shownOnce, ...fix } = answer;
      return { ...view, fixes: [fix, ...view.fixes.filter((f) => f.id !== fix.id)] };
    });
  };

  const notRun = doctor.isError && errorCode(doctor.error) === 'DOCTOR_NOT_RUN';
  // Never examined and not in rescue: nothing to say.
  if (doctor.isPending || (notRun && serverState !== 'rescue')) return null;
  const view = doctor.data;
  const last = view !== undefined && !view.current;
  return (
    <section className="card doctor" aria-labelledby="doctor-title">
      <h2 id="doctor-title">{last ? t('doctor.titleLast') : t('doctor.title')}</h2>
      {password !== null && <SecretOnce label={t('doctor.passwordLabel')} secret={password} onDismiss={() => setPassword(null)} />}
      {notRun ? <p className="muted">{t('doctor.waiting')}</p> : view === undefined ? <ErrorNote error={doctor.error} /> : <DoctorReportView server={server} view={view} fixable={canFix(view, serverState)} onAsked={onAsked} />}
    </section>
  );
}

function DoctorReportView({ server, view, fixable, onAsked }: { readonly server: string; readonly view: DoctorView; readonly fixable: boolean; readonly onAsked: (answer: DoctorFixAnswer) => void }) {
  const { t, plural, locale } = usePage();
  const { report } = view;
  const findings = findingsBySeverity(report.findings);
  const duration = formatSeconds(Math.max(1, Math.round((report.durationMs ?? 0) / 1000)), locale);
  const at = formatDate(report.finishedAt ?? report.startedAt, locale);
  return (
    <>
      {!view.current && <p className="hint">{t('doctor.lastRescue', { date: formatDate(report.startedAt, locale) })}</p>}
      <p className="row doctor-state" role="status">
        <span className={`badge badge-${report.state === 'running' ? 'warning' : report.state === 'failed' ? 'danger' : 'success'}`}>{t(`doctor.state.${report.state}`)}</span>
        <span className="doctor-state-text">
          {report.state === 'running'
            ? t('doctor.running', { at: formatDate(report.startedAt, locale) })
            : report.state === 'failed'
              ? t('doctor.failed', { error: report.error ?? '' })
              : report.installedSystem
                ? t('doctor.done', { system: report.installedSystem, duration, at })
                : t('doctor.doneNoSystem', { duration, at })}
        </span>
      </p>
      {report.state === 'done' && findings.length === 0 && <p>{t('doctor.none')}</p>}
      {findings.length > 0 && (
        <>
          <p className="meta">{plural('doctor.count', findings.length, { count: findings.length })}</p>
          <ol className="cards doctor-findings" aria-label={t('doctor.findings')}>
            {findings.map((finding) => (
              <li key={finding.id}>
                <FindingCard server={server} view={view} finding={finding} fixable={fixable} onAsked={onAsked} />
              </li>
            ))}
          </ol>
        </>
      )}
    </>
  );
}

