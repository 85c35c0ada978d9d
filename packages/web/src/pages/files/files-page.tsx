/** `/servers/:name/files`: the explorer tab of a server (only while it is in rescue: the agent reads the disks). */
import { queryKeys } from '../../api/client.js';
import { ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { useResource } from '../common/use-resource.js';
import { ExplorerPanel } from './explorer-panel.js';

/** The tab. */
export function FilesPage({ name }: { readonly name: string }) {
  const { client, t } = usePage();
  const server = useResource(queryKeys.server(name), () => client.getServer(name));
  if (server.error) return <ErrorNote error={server.error} />;
  if (!server.data) return null;
  if (server.data.state !== 'rescue') return <p className="hint">{t('files.needsRescue')}</p>;
  return <ExplorerPanel server={name} />;
}
