/**
 * `/servers/:name/tests`: the tests tab of a server. The start form shows only while the server is in
 * rescue; the shell's event stream keeps the server's cached state current, so it appears by itself.
 */
import { queryKeys } from '../../api/client.js';
import { ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { ServerPageHeader } from '../common/server-tabs.js';
import { useResource } from '../common/use-resource.js';
import { TestsPanel } from './tests-panel.js';

/** The tab. */
export function TestsPage({ name }: { readonly name: string }) {
  const { client, t } = usePage();
  const server = useResource(queryKeys.server(name), () => client.getServer(name));
  return (
    <section className="page stack">
      <ServerPageHeader name={name} title={t('tests.pageTitle', { server: name })} />
      {server.error && !server.data ? <ErrorNote error={server.error} /> : server.data ? <TestsPanel server={name} canRun={server.data.state === 'rescue'} /> : null}
    </section>
  );
}
