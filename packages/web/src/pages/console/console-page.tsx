/**
 * `/servers/:name/console`: the serial console in an xterm.js terminal (live, read-only until the
 * viewer takes the keyboard) and the console log of the last boot. The terminals are loaded lazily.
 */
import { lazy, Suspense } from 'react';
import { queryKeys } from '../../api/client.js';
import { ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { ServerPageHeader } from '../common/server-tabs.js';
import { useResource } from '../common/use-resource.js';
import { ConsoleLogSummary, useConsoleLog } from './console-log.js';

const LiveConsole = lazy(async () => ({ default: (await import('./terminal-view.js')).LiveConsole }));
const LogTerminal = lazy(async () => ({ default: (await import('./terminal-view.js')).LogTerminal }));

/** The page. */
export function ConsolePage({ name }: { readonly name: string }) {
  const { client, t } = usePage();
  const server = useResource(queryKeys.server(name), () => client.getServer(name));
  const log = useConsoleLog(name, server.data?.state);
  const loading = <p aria-busy="true">{t('console.loading')}</p>;
  return (
    <section className="page stack">
      <ServerPageHeader name={name} title={t('console.pageTitle', { server: name })} />
      {server.error && !server.data ? (
        <ErrorNote error={server.error} />
      ) : (
        server.data && (
          <>
            <Suspense fallback={loading}>
              <LiveConsole server={name} />
            </Suspense>
            <ConsoleLogSummary name={name} log={log} full>
              {log.data && (
                <Suspense fallback={loading}>
                  <LogTerminal server={name} data={log.data.data} />
                </Suspense>
              )}
            </ConsoleLogSummary>
          </>
        )
      )}
    </section>
  );
}
