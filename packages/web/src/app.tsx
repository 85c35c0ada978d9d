/** The console: the sign-in page, or the shell with the page of the current path. */
import { LiveEventsProvider } from './api/live-events.js';
import { SignInPage } from './auth/sign-in-page.js';
import { useSession } from './auth/session.js';
import { useI18n } from './i18n/i18n.js';
import { Shell } from './layout/shell.js';
import { ServerPage } from './rescue/server-page.js';
import { navigate, Routes, useLocation, type Route } from './router/router.js';
import { ServersPage } from './servers/servers-page.js';
import { pageRoutes } from './pages/routes.js';
import { Link } from './router/router.js';
import { useEffect } from 'react';

/** Every page of the console (features add theirs). */
export const routes: readonly Route[] = [
  { path: '/servers', render: () => <ServersPage /> },
  { path: '/servers/:name', render: ({ name }) => <ServerPage name={name as string} /> },
  ...pageRoutes,
];

function NotFound() {
  const { t } = useI18n();
  return (
    <section className="page">
      <h1 tabIndex={-1}>{t('app.notFound')}</h1>
      <Link href="/servers">{t('app.backToServers')}</Link>
    </section>
  );
}

/** The root component. */
export function App() {
  const { state } = useSession();
  const { path } = useLocation();
  const { t } = useI18n();
  useEffect(() => {
    if (state.status === 'signed-in' && path === '/') navigate('/servers', { replace: true });
  }, [state.status, path]);

  if (state.status === 'loading') {
    return (
      <p className="loading" role="status">
        {t('app.loading')}
      </p>
    );
  }
  if (state.status === 'signed-out') return <SignInPage notice={state.reason} />;
  return (
    <LiveEventsProvider>
      <Shell>
        <Routes routes={routes} fallback={<NotFound />} />
      </Shell>
    </LiveEventsProvider>
  );
}
