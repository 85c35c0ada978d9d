/** The console log of a server's last boot into or out of rescue (`GET /v1/servers/{name}/console/log`). */
import type { ConsoleLogView } from '@lifeboat/core/api';
import type { ReactNode } from 'react';
import { errorCode } from '../../i18n/error-message.js';
import { formatBytes, formatDate } from '../common/format.js';
import { AppLink, ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { useResource, type Resource } from '../common/use-resource.js';

/**
 * The server's latest console log; none recorded yet is `null`, not an error. `state` (the server's,
 * kept current by the event stream) is part of the key: a new rescue or exit loads the log again.
 */
export function useConsoleLog(name: string, state?: string): Resource<ConsoleLogView | null> {
  const { client } = usePage();
  return useResource(['console-log', name, state ?? ''], async () => {
    try {
      return await client.getConsoleLog(name);
    } catch (error) {
      if (errorCode(error) === 'CONSOLE_LOG_NOT_FOUND') return null;
      throw error;
    }
  });
}

/**
 * A card with the log's session, times, size and last lines; `full` (the console page) shows
 * `children` (the whole log in a terminal) instead of the link to it.
 */
export function ConsoleLogSummary({ name, log, full = false, children }: { readonly name: string; readonly log: Resource<ConsoleLogView | null>; readonly full?: boolean; readonly children?: ReactNode }) {
  const { t, locale } = usePage();
  const view = log.data;
  return (
    <section className="card stack" aria-labelledby="console-log-title">
      <h2 id="console-log-title">{t('console.logTitle')}</h2>
      <ErrorNote error={log.error} />
      {log.loading && <p aria-busy="true">{t('console.loading')}</p>}
      {view === null && <p>{t('console.logNone')}</p>}
      {view && (
        <>
          <p className="meta">
            {t('console.logMeta', { started: formatDate(view.startedAt, locale), updated: formatDate(view.updatedAt, locale), size: formatBytes(view.bytes, locale) })}
            {view.dropped > 0 && ` ${t('console.logDropped', { size: formatBytes(view.dropped, locale) })}`}
          </p>
          {full ? (
            children
          ) : (
            <>
              {view.tail && (
                <pre className="output" aria-label={t('console.logTail')}>
                  {view.tail}
                </pre>
              )}
              <AppLink to={`/servers/${encodeURIComponent(name)}/console`}>{t('console.open')}</AppLink>
            </>
          )}
        </>
      )}
    </section>
  );
}

/** The card on a server's overview page: the last lines, and a link to the console page. */
export function LastBootLog({ name, state }: { readonly name: string; readonly state: string }) {
  const log = useConsoleLog(name, state);
  return <ConsoleLogSummary name={name} log={log} />;
}
