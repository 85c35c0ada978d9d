/** The links between a server's pages: its overview (the shell's), tests, files, console, and declaring an incident. */
import { useLocation } from '../../router/router.js';
import { AppLink } from './notices.js';
import { usePage } from './page-context.js';

/** The tabs of server `name`; the current one is marked for screen readers. */
export function ServerTabs({ name }: { readonly name: string }) {
  const { t } = usePage();
  const { path } = useLocation();
  const base = `/servers/${encodeURIComponent(name)}`;
  const tabs = [
    { href: base, label: t('tests.tabs.overview') },
    { href: `${base}/tests`, label: t('tests.tabs.tests') },
    { href: `${base}/files`, label: t('tests.tabs.files') },
    { href: `${base}/console`, label: t('tests.tabs.console') },
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
