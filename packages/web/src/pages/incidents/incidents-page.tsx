/**
 * The incidents: a customer's own (its tenant's), or for technicians and operators the queue across
 * tenants (open first, oldest first), filtered by state and server.
 */
import { useState } from 'react';
import type { IncidentQuery } from '@lifeboat/core/api';
import { formatDate } from '../common/format.js';
import { AppLink, ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { useResource } from '../common/use-resource.js';
import { IncidentState } from './incident-state.js';

/** `/incidents`. */
export function IncidentsPage() {
  const { client, t, locale, user } = usePage();
  const [state, setState] = useState<IncidentQuery['state'] | ''>(user.role === 'customer' ? '' : 'open');
  const [server, setServer] = useState('');
  const query: IncidentQuery = { ...(state ? { state } : {}), ...(server.trim() ? { server: server.trim() } : {}) };
  const list = useResource(['incidents', query], () => client.listIncidents(query));
  const staff = user.role !== 'customer';

  return (
    <section className="page stack" aria-labelledby="incidents-title">
      <h1 id="incidents-title" tabIndex={-1}>{t(staff ? 'incidents.queue' : 'incidents.mine')}</h1>
      <form className="fields" role="search" aria-label={t('incidents.filters')} onSubmit={(event) => event.preventDefault()}>
        <label>
          {t('incidents.filterState')}
          <select name="state" value={state} onChange={(event) => setState(event.target.value as IncidentQuery['state'] | '')}>
            <option value="">{t('incidents.state.all')}</option>
            <option value="open">{t('incidents.state.open')}</option>
            <option value="acknowledged">{t('incidents.state.acknowledged')}</option>
            <option value="resolved">{t('incidents.state.resolved')}</option>
          </select>
        </label>
        <label>
          {t('incidents.filterServer')}
          <input name="server" type="search" value={server} onChange={(event) => setServer(event.target.value)} autoComplete="off" />
        </label>
        <div>
          <button type="button" onClick={list.reload}>
            {t('incidents.refresh')}
          </button>
        </div>
      </form>
      <ErrorNote error={list.error} />
      {list.loading && <p aria-busy="true">{t('incidents.loading')}</p>}
      {list.data?.incidents.length === 0 && <p>{t('incidents.none')}</p>}
      {list.data && list.data.incidents.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">{t(staff ? 'incidents.queue' : 'incidents.mine')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('incidents.subject')}</th>
                <th scope="col">{t('incidents.server')}</th>
                {staff && <th scope="col">{t('incidents.tenant')}</th>}
                <th scope="col">{t('incidents.state')}</th>
                <th scope="col" className="wide">{t('incidents.declaredAt')}</th>
                <th scope="col" className="wide">{t('incidents.comments')}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.incidents.map((incident) => (
                <tr key={incident.id}>
                  <td>
                    <AppLink to={`/incidents/${encodeURIComponent(incident.id)}`}>{incident.title}</AppLink>
                  </td>
                  <td>{incident.server}</td>
                  {staff && <td>{incident.tenant}</td>}
                  <td>
                    <IncidentState state={incident.state} />
                  </td>
                  <td className="wide">{formatDate(incident.createdAt, locale)}</td>
                  <td className="wide">{incident.comments}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
