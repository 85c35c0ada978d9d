/**
 * The links between a server's pages: its overview (the shell's), tests, files, console, the desktop
 * (while a rescue with one is up), and declaring an incident.
 */
import { profileHasDesktop } from '@lifeboat/core/api';
import { queryKeys } from '../../api/client.js';
import { useLocation } from '../../router/router.js';
import { AppLink } from './notices.js';
import { usePage } from './page-context.js';
import { useResource } from './use-resource.js';

/** The tabs of server `name`; the current one is marked for screen readers. */
export function ServerTabs({ name }: { readonly name: string }) {
  const { client, t } = usePage();
  const { path } = useLocation();
  const base = `/servers/${encodeURIComponent(name)}`;
  // The same cache entries as the pages' own: no extra request where a page already reads them.
  const server = useResource(queryKeys.server(name), () => client.getServer(name));
  const inRescue = server.data?.state === 'rescue';
  const rescue = useResource(inRescue ? queryKeys.rescue(name) : null, () => client.getRescue(name));
  const desktop = `${base}/desktop`;
  const hasDesktop = path === desktop || (inRescue && profileHasDesktop(rescue.data?.profile));
  const tabs = [
    { href: base, label: t('tests.tabs.overview') },
    { href: `${base}/tests`, label: t('tests.tabs.tests') },
    { href: `${base}/files`, label: t('tests.tabs.files') },
    { href: `${base}/console`, label: t('tests.tabs.console') },
    ...(hasDesktop ? [{ href: desktop, label: t('tests.tabs.desktop') }] : []),
    { href: `${base}/incidents/new`, label: t('tests.tabs.incident') },
  ];
  return (
    <nav aria-label={t('tests.tabs.label', { server: name })} className="tabs">
      <ul>
        {tabs.map((tab) => (
          <li key={tab.href}>
            <AppLink to={tab.href} current={path === tab.href}>
              {tab.label}
            </AppLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** The heading of a server's feature page, with the tabs under it. */
export function ServerPageHeader({ name, title }: { readonly name: string; readonly title: string }) {
  return (
    <header className="stack">
      <h1 tabIndex={-1}>{title}</h1>
      <ServerTabs name={name} />
    </header>
  );
}
