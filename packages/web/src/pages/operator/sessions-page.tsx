/**
 * Sessions that need a person (technicians and operators): leases about to expire, rescues or exits
 * that failed, and rescue systems whose agent stopped answering. Refreshed by the event stream and
 * every minute (a lease runs out and an agent falls silent without any event).
 */
import { useEffect } from 'react';
import type { RescueView } from '@lifeboat/core/api';
import { formatDate } from '../common/format.js';
import { useLiveEvents } from '../common/live-events.js';
import { DataTable, ListState } from '../common/data-table.js';
import { AppLink } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { useResource } from '../common/use-resource.js';
import { concernsOf, openSessionStates, type Watched } from './sessions-watch.js';

const refreshMs = 60_000;

/** `/sessions`. */
export function SessionsPage() {
  const { client, t, locale } = usePage();
  const watch = useResource(['sessions-watch'], async (): Promise<Watched[]> => {
    const { servers } = await client.listServers();
    const now = Date.now();
    const rows = await Promise.all(
      servers.map(async (server) => {
        const rescue: RescueView | null = openSessionStates.has(server.state) ? await client.getRescue(server.name).catch(() => null) : null;
        return { server, rescue, concerns: concernsOf(server, rescue, now) };
      }),
    );
    return rows.filter((row) => row.concerns.length > 0);
  });
  useLiveEvents(null, { onServer: () => watch.reload(), onOpen: () => watch.reload() });
  useEffect(() => {
    const timer = setInterval(() => watch.reload(), refreshMs);
    return () => clearInterval(timer);
  }, [watch.reload]);

  return (
    <section className="page stack" aria-labelledby="sessions-title">
      <h1 id="sessions-title" tabIndex={-1}>{t('ops.sessions.title')}</h1>
      <p className="hint">{t('ops.sessions.help')}</p>
      <ListState error={watch.error} loading={watch.loading} />
      {watch.data?.length === 0 && <p role="status">{t('ops.sessions.none')}</p>}
      {watch.data && watch.data.length > 0 && (
        <DataTable
          caption={t('ops.sessions.title')}
          rows={watch.data}
          rowKey={({ server }) => server.id}
          columns={[
            { header: t('ops.fleet.server'), cell: ({ server }) => <AppLink to={`/servers/${encodeURIComponent(server.name)}`}>{server.name}</AppLink> },
            { header: t('ops.fleet.tenant'), cell: ({ server }) => server.tenant },
            {
              header: t('ops.sessions.concerns'),
              cell: ({ server, concerns }) => (
                <>
                  {concerns.map((concern) => (
                    <span key={concern} className={`badge badge-${concern === 'expiring' ? 'warning' : 'danger'}`}>
                      {t(`ops.sessions.${concern}`)}
                    </span>
                  ))}
                  {server.reason && <span className="meta"> {server.reason}</span>}
                </>
              ),
            },
            { header: t('ops.sessions.expires'), wide: true, cell: ({ rescue }) => formatDate(rescue?.expiresAt ?? null, locale) },
            { header: t('ops.sessions.agentSeen'), wide: true, cell: ({ rescue }) => formatDate(rescue?.agent.lastSeenAt ?? null, locale) },
          ]}
        />
      )}
    </section>
  );
}
