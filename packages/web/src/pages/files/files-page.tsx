/** `/servers/:name/files`: the explorer tab of a server (only while it is in rescue: the agent reads the disks). */
import { queryKeys } from '../../api/client.js';
import { ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { ServerPageHeader } from '../common/server-tabs.js';
import { useResource } from '../common/use-resource.js';
import { ExplorerPanel } from './explorer-panel.js';

/** The tab. */
export function FilesPage({ name }: { readonly name: string }) {
  const { client, t } = usePage();
  const server = useResource(queryKeys.server(name), () => client.getServer(name));
  return (
    <section className="page stack">
      <ServerPageHeader name={name} title={t('files.pageTitle', { server: name })} />
      {server.error && !server.data ? <ErrorNote error={server.error} /> : null}
      {server.data && server.data.state !== 'rescue' && <p className="hint">{t('files.needsRescue')}</p>}
      {server.data?.state === 'rescue' && <ExplorerPanel server={name} />}
    </section>
  );
}
