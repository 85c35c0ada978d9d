/** The audit log (operators): who did what to which server, filtered by server and by action or actor. */
import { useState } from 'react';
import { formatDate } from '../common/format.js';
import { ChoiceSelect, DataTable, ListState } from '../common/data-table.js';
import { usePage } from '../common/page-context.js';
import { useResource } from '../common/use-resource.js';
import { filterAudit, type AuditRow } from './filters.js';

/** `/audit`. */
export function AuditPage() {
  const { client, t, locale } = usePage();
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
        <ChoiceSelect label={t('ops.audit.limit')} name="limit" value={limit} onChange={(value) => setLimit(Number(value))} choices={[50, 200, 1000]} />
        <ChoiceSelect label={t('ops.audit.action')} name="action" value={action} onChange={setAction} choices={actions} empty={t('ops.audit.allActions')} />
        <label>
          {t('ops.audit.text')}
          <input name="text" type="search" value={text} onChange={(event) => setText(event.target.value)} autoComplete="off" />
        </label>
        <div>
          <button type="submit">{t('ops.audit.apply')}</button>
        </div>
      </form>
      <ListState error={log.error} loading={log.loading} count={{ key: 'ops.audit.count', shown: shown.length, total: events.length }} />
      <DataTable
        caption={t('ops.audit.title')}
        rows={shown}
        rowKey={(event) => event.id}
        columns={[
          { header: t('ops.audit.at'), cell: (event) => formatDate(event.at, locale) },
          { header: t('ops.audit.action'), cell: (event) => <code>{event.action}</code> },
          { header: t('ops.audit.actor'), cell: (event) => event.actor },
          { header: t('ops.audit.detail'), wide: true, cell: (event) => <code className="detail">{JSON.stringify(event.detail)}</code> },
        ]}
      />
    </section>
  );
}
