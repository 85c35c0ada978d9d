/** The audit log (operators): who did what to which server, filtered by server and by action or actor. */
import { useState } from 'react';
import { formatDate } from '../common/format.js';
import { ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { useResource } from '../common/use-resource.js';
import { filterAudit, type AuditRow } from './filters.js';

/** `/audit`. */
export function AuditPage() {
  const { client, t, plural, locale } = usePage();
  const [server, setServer] = useState('');
  const [applied, setApplied] = useState('');
  const [limit, setLimit] = useState(200);
  const [action, setAction] = useState('');
  const [text, setText] = useState('');
  const log = useResource(['audit', applied, limit], async () => (await client.audit({ ...(applied ? { server: applied } : {}), limit })).events as AuditRow[]);
  const events = log.data ?? [];
  const actions = [...new Set(events.map((event) => event.action.split('.')[0] ?? event.action))].sort();
  const shown = filterAudit(events, { action, text });

  return (
    <section className="page stack" aria-labelledby="audit-title">
      <h1 id="audit-title" tabIndex={-1}>{t('ops.audit.title')}</h1>
      <form
        className="fields"
        role="search"
        aria-label={t('ops.audit.filters')}
        onSubmit={(event) => {
          event.preventDefault();
          setApplied(server.trim());
        }}
      >
        <label>
          {t('ops.audit.server')}
          <input name="server" value={server} onChange={(event) => setServer(event.target.value)} autoComplete="off" />
        </label>
        <label>
          {t('ops.audit.limit')}
          <select name="limit" value={limit} onChange={(event) => setLimit(Number(event.target.value))}>
            {[50, 200, 1000].map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('ops.audit.action')}
          <select name="action" value={action} onChange={(event) => setAction(event.target.value)}>
            <option value="">{t('ops.audit.allActions')}</option>
            {actions.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('ops.audit.text')}
          <input name="text" type="search" value={text} onChange={(event) => setText(event.target.value)} autoComplete="off" />
        </label>
        <div>
          <button type="submit">{t('ops.audit.apply')}</button>
        </div>
      </form>
      <ErrorNote error={log.error} />
      {log.loading && <p aria-busy="true">{t('ops.loading')}</p>}
      <p className="meta" aria-live="polite">
        {plural('ops.audit.count', shown.length, { shown: shown.length, total: events.length })}
      </p>
      <div className="table-wrap">
        <table>
          <caption className="visually-hidden">{t('ops.audit.title')}</caption>
          <thead>
            <tr>
              <th scope="col">{t('ops.audit.at')}</th>
              <th scope="col">{t('ops.audit.action')}</th>
              <th scope="col">{t('ops.audit.actor')}</th>
              <th scope="col" className="wide">{t('ops.audit.detail')}</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((event) => (
              <tr key={event.id}>
                <td>{formatDate(event.at, locale)}</td>
                <td>
                  <code>{event.action}</code>
                </td>
                <td>{event.actor}</td>
                <td className="wide">
                  <code className="detail">{JSON.stringify(event.detail)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
