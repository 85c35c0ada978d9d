/**
 * One incident: the declaration, the attached test results, the comments; anyone who sees it may
 * comment; technicians and operators acknowledge, resolve, reopen and put the server in rescue.
 */
import { useState, type FormEvent } from 'react';
import type { IncidentDetail } from '@lifeboat/core/api';
import type { RescueTaskAnswer } from '@lifeboat/core/client';
import { formatDate } from '../common/format.js';
import { AppLink, ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { SecretOnce } from '../common/secret-once.js';
import { useResource } from '../common/use-resource.js';
import { IncidentState } from './incident-state.js';

/** `/incidents/:id`. */
export function IncidentPage({ id }: { readonly id: string }) {
  const { client, t, locale, user } = usePage();
  const detail = useResource(['incident', id], () => client.getIncident(id));
  const staff = user.role !== 'customer';
  if (!detail.data) {
    return (
      <section className="page stack">
        <p>
          <AppLink to="/incidents">{t('incidents.back')}</AppLink>
        </p>
        <h1 tabIndex={-1}>{t('incidents.incident')}</h1>
        {detail.error ? <ErrorNote error={detail.error} /> : <p aria-busy="true">{t('incidents.loading')}</p>}
      </section>
    );
  }
  const { incident, comments } = detail.data;

  return (
    <article className="page stack" aria-labelledby="incident-title">
      <header className="stack">
        <p>
          <AppLink to="/incidents">{t('incidents.back')}</AppLink>
        </p>
        <h1 id="incident-title" tabIndex={-1}>{incident.title}</h1>
        <p className="row">
          <IncidentState state={incident.state} />
          <span className="meta">{t('incidents.on', { server: incident.server, tenant: incident.tenant, date: formatDate(incident.createdAt, locale) })}</span>
        </p>
      </header>
      <p className="prewrap">{incident.message}</p>
      {incident.resolution && (
        <p>
          <strong>{t('incidents.resolution')}</strong> {incident.resolution}
        </p>
      )}
      {incident.tests.length > 0 && (
        <section aria-labelledby="attached-title">
          <h2 id="attached-title">{t('incidents.attached')}</h2>
          <ul className="cards">
            {incident.tests.map((test) => (
              <li key={test.id} className="card">
                <strong>
                  {t(`tests.kind.${test.kind}`)}
                  {test.device ? ` · ${test.device}` : ''}
                </strong>{' '}
                <span className="badge">{t(`tests.status.${test.status}`)}</span>
                {test.summary && <p className="summary">{test.summary}</p>}
                {test.result !== null && test.result !== undefined && (
                  <details>
                    <summary>{t('tests.result')}</summary>
                    <pre className="output">{JSON.stringify(test.result, null, 2)}</pre>
                  </details>
                )}
              </li>
            ))}
          </ul>
        </section>
      )}
      {staff && <StaffActions detail={detail.data} onChange={detail.reload} />}
      <section aria-labelledby="comments-title" className="stack">
        <h2 id="comments-title">{t('incidents.commentsTitle')}</h2>
        {comments.length === 0 && <p>{t('incidents.noComments')}</p>}
        <ol className="comments">
          {comments.map((comment) => (
            <li key={comment.id} className="card">
              <p className="meta">
                {t('incidents.commentBy', { author: comment.author, role: t(`incidents.role.${comment.role}`), date: formatDate(comment.createdAt, locale) })}
              </p>
              <p className="prewrap">{comment.message}</p>
            </li>
          ))}
        </ol>
        <CommentForm id={id} onDone={detail.reload} />
      </section>
    </article>
  );
}

function CommentForm({ id, onDone }: { readonly id: string; readonly onDone: () => void }) {
  const { client, t } = usePage();
  const [message, setMessage] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await client.commentIncident(id, { message: message.trim() });
      setMessage('');
      onDone();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="stack" onSubmit={submit}>
      <label>
        {t('incidents.comment')}
        <textarea name="comment" value={message} onChange={(event) => setMessage(event.target.value)} required maxLength={10000} rows={3} />
      </label>
      <ErrorNote error={error} />
      <div>
        <button type="submit" disabled={busy}>
          {t('incidents.addComment')}
        </button>
      </div>
    </form>
  );
}

function StaffActions({ detail, onChange }: { readonly detail: IncidentDetail; readonly onChange: () => void }) {
  const { client, t } = usePage();
  const { incident } = detail;
  const [resolution, setResolution] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const [rescue, setRescue] = useState<RescueTaskAnswer | null>(null);
  const act = async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await action();
      onChange();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card stack" aria-labelledby="staff-title">
      <h2 id="staff-title">{t('incidents.handle')}</h2>
      <div className="row actions">
        {incident.state === 'open' && (
          <button type="button" disabled={busy} onClick={() => act(() => client.updateIncident(incident.id, { state: 'acknowledged' }))}>
            {t('incidents.acknowledge')}
          </button>
        )}
        {incident.state === 'resolved' && (
          <button type="button" disabled={busy} onClick={() => act(() => client.updateIncident(incident.id, { state: 'open' }))}>
            {t('incidents.reopen')}
          </button>
        )}
        <button type="button" disabled={busy} onClick={() => act(async () => setRescue(await client.enterRescue(incident.server, {})))}>
          {t('incidents.putInRescue', { server: incident.server })}
        </button>
        <AppLink to={`/servers/${encodeURIComponent(incident.server)}`}>{t('incidents.openServer', { server: incident.server })}</AppLink>
      </div>
      {rescue?.ssh.password && <SecretOnce label={t('incidents.rescuePassword', { server: incident.server })} secret={rescue.ssh.password} onDismiss={() => setRescue(null)} />}
      {rescue && !rescue.ssh.password && <p role="status">{t('incidents.rescueStarted', { server: incident.server })}</p>}
      {incident.state !== 'resolved' && (
        <form
          className="stack"
          onSubmit={(event) => {
            event.preventDefault();
            void act(() => client.resolveIncident(incident.id, resolution.trim() ? { message: resolution.trim() } : {}));
          }}
        >
          <label>
            {t('incidents.resolutionLabel')}
            <textarea name="resolution" value={resolution} onChange={(event) => setResolution(event.target.value)} maxLength={10000} rows={2} />
          </label>
          <div>
            <button type="submit" disabled={busy}>
              {t('incidents.resolve')}
            </button>
          </div>
        </form>
      )}
      <ErrorNote error={error} />
    </section>
  );
}
