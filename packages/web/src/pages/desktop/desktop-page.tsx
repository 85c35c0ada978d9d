/**
 * `/servers/:name/desktop`: the rescue desktop of the `windows` profile (issue 16) in the browser,
 * through noVNC, and the SSH tunnel for a VNC viewer of one's own. When the desktop cannot be opened,
 * the page says why and the way there. noVNC is loaded lazily, with the screen.
 */
import type { DesktopUnavailableReason, DesktopView, ServerView } from '@lifeboat/core/api';
import { canEnterRescue, isInRescue } from '@lifeboat/core/rescue-state';
import { lazy, Suspense } from 'react';
import { queryKeys } from '../../api/client.js';
import { CopyField } from '../../ui/copy-button.js';
import { AppLink, ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { ServerPageHeader } from '../common/server-tabs.js';
import { useResource } from '../common/use-resource.js';
import './desktop.css';

const DesktopScreen = lazy(async () => ({ default: (await import('./desktop-screen.js')).DesktopScreen }));

/** How often an open desktop's view is read again, for its number of viewers. */
const viewersPollMs = 5000;

/** The profile whose rescue has a desktop, as the enter form names it. */
const desktopProfile = 'windows';

/** The page. */
export function DesktopPage({ name }: { readonly name: string }) {
  const { client, t } = usePage();
  const server = useResource(queryKeys.server(name), () => client.getServer(name));
  // How many view the desktop changes without a live event: read again while it is open.
  const desktop = useResource(queryKeys.desktop(name), () => client.getDesktop(name), { pollMs: (view) => (view?.available ? viewersPollMs : false) });
  const error = server.error ?? desktop.error;
  return (
    <section className="page stack">
      <ServerPageHeader name={name} title={t('desktop.pageTitle', { server: name })} />
      {error && !(server.data && desktop.data) ? (
        <ErrorNote error={error} />
      ) : server.data && desktop.data ? (
        desktop.data.available ? (
          <>
            <Suspense fallback={<p aria-busy="true">{t('desktop.loading')}</p>}>
              <DesktopScreen view={desktop.data} onUnexplainedEnd={desktop.reload} onConnected={desktop.reload} />
            </Suspense>
            <ViewerTunnel view={desktop.data} />
          </>
        ) : (
          <Unavailable server={server.data} view={desktop.data} />
        )
      ) : (
        <p aria-busy="true">{t('desktop.loading')}</p>
      )}
    </section>
  );
}

/** Why the desktop cannot be opened now, and the way there. */
function Unavailable({ server, view }: { readonly server: ServerView; readonly view: DesktopView }) {
  const { t } = usePage();
  const reason: DesktopUnavailableReason = view.reason ?? 'not-in-rescue';
  const base = `/servers/${encodeURIComponent(server.name)}`;
  const hasProfile = server.profiles.includes(desktopProfile);
  return (
    <section className="card stack" aria-labelledby="desktop-unavailable-title">
      <h2 id="desktop-unavailable-title">{t('desktop.unavailableTitle')}</h2>
      <p data-reason={reason}>{t(`desktop.reason.${reason}`, { profile: view.profile ?? '' })}</p>
      {reason === 'not-in-rescue' && hasProfile && canEnterRescue(server.state) && (
        <p>
          <AppLink to={`${base}?profile=${desktopProfile}`} className="button primary">
            {t('desktop.enterWindows')}
          </AppLink>
        </p>
      )}
      {reason === 'not-in-rescue' && !hasProfile && <p className="hint">{t('desktop.noWindowsProfile')}</p>}
      {reason === 'no-desktop-profile' && isInRescue(server.state) && (
        <p>
          <AppLink to={base}>{hasProfile ? t('desktop.exitThenWindows') : t('desktop.backToServer')}</AppLink>
        </p>
      )}
    </section>
  );
}

/** The SSH tunnel for a VNC viewer of one's own. */
function ViewerTunnel({ view }: { readonly view: DesktopView }) {
  const { t } = usePage();
  if (view.tunnel === null) return null;
  return (
    <section className="card stack" aria-labelledby="desktop-tunnel-title">
      <h2 id="desktop-tunnel-title">{t('desktop.tunnelTitle')}</h2>
      <p className="hint">{t('desktop.tunnelHelp')}</p>
      <CopyField label={t('desktop.tunnelCommand')} value={view.tunnel} />
      <CopyField label={t('desktop.viewerCommand')} value="vncviewer localhost:5900" />
      <p className="hint">{t('desktop.tunnelNote')}</p>
      <CopyField label={t('desktop.relayCommand')} value={`lifeboat desktop ${view.server} --listen 127.0.0.1:5900`} />
      <p className="hint">{t('desktop.relayNote')}</p>
    </section>
  );
}
