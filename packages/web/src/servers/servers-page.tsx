/**
 * The servers the user may see, with their status, live (the SSE stream updates the cached list).
 * Search (name, tenant, MAC) and the status filter live in the URL (`?q=&status=`), so a filtered
 * view can be bookmarked or shared.
 */
import { rescueStates } from '@lifeboat/core/rescue-state';
import { useQuery } from '@tanstack/react-query';
import { useId } from 'react';
import { queryKeys, useClient } from '../api/client.js';
import { useUser } from '../auth/session.js';
import { errorMessage } from '../i18n/error-message.js';
import { useI18n } from '../i18n/i18n.js';
import { Link, navigate, useLocation } from '../router/router.js';
import { StatusBadge } from './status-badge.js';
import { parseFilter, serverMatches } from './server-filter.js';

/** `/servers`. */
export function ServersPage() {
  const i18n = useI18n();
  const { t } = i18n;
  const client = useClient();
  const user = useUser();
  const { search } = useLocation();
  const query = search.get('q') ?? '';
  const filter = parseFilter(search.get('status'));
  const servers = useQuery({ queryKey: queryKeys.servers, queryFn: () => client.listServers() });
  const countId = useId();

  const setParams = (next: { q?: string; status?: string }) => {
    const params = new URLSearchParams(search);
    for (const [key, value] of Object.entries(next)) {
      if (value && value !== 'all') params.set(key, value);
      else params.delete(key);
    }
    const text = params.toString();
    navigate(`/servers${text ? `?${text}` : ''}`, { replace: true });
  };

  const all = servers.data?.servers ?? [];
  const shown = all.filter((s) => serverMatches(s, query, filter)).sort((a, b) => a.name.localeCompare(b.name));
  const showTenant = user.role !== 'customer';

  return (
    <section className="page">
      <h1 tabIndex={-1}>{t('servers.title')}</h1>
      <div className="toolbar" role="search">
        <label className="field inline">
          <span>{t('servers.search')}</span>
          <input type="search" value={query} placeholder={t('servers.searchPlaceholder')} onChange={(e) => setParams({ q: e.target.value })} aria-describedby={countId} />
        </label>
        <label className="field inline">
          <span>{t('servers.filter')}</span>
          <select value={filter} onChange={(e) => setParams({ status: e.target.value })}>
            <option value="all">{t('servers.filterAll')}</option>
            <option value="in-rescue">{t('servers.filterRescue')}</option>
            <option value="failed">{t('servers.filterFailed')}</option>
            {rescueStates.map((state) => (
              <option key={state} value={state}>
                {t(`status.${state}`)}
              </option>
            ))}
          </select>
        </label>
      </div>
      {servers.isPending && <p role="status">{t('app.loading')}</p>}
      {servers.isError && <p role="alert" className="error-text">{errorMessage(i18n, servers.error)}</p>}
      {servers.isSuccess && (
        <>
          <p id={countId} className="muted" role="status" aria-live="polite">
            {i18n.plural('servers.count', all.length, { shown: shown.length, total: all.length })}
          </p>
          {all.length === 0 ? (
            <p>{t('servers.none')}</p>
          ) : shown.length === 0 ? (
            <p>{t('servers.noMatch')}</p>
          ) : (
            <ul className={showTenant ? 'server-list' : 'server-list no-tenant'} aria-label={t('servers.title')}>
              {shown.map((server) => (
                <li key={server.id} className="server-row" data-server={server.name}>
                  <Link href={`/servers/${encodeURIComponent(server.name)}`} className="server-name">
                    {server.name}
                  </Link>
                  {showTenant && <span className="muted tenant">{server.tenant}</span>}
                  <StatusBadge state={server.state} reason={server.reason} />
                </li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
