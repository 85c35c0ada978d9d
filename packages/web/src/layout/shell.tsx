/**
 * The signed-in layout: a skip link, the header (brand, navigation, live status, language, user,
 * sign-out) and the main region. Navigation entries come from `navItems` (features add theirs).
 */
import { useEffect, useRef, type ReactNode } from 'react';
import { useLiveStatus } from '../api/live-events.js';
import { useSession, useUser, type SessionUser } from '../auth/session.js';
import { LanguageSwitch, useI18n } from '../i18n/i18n.js';
import type { MessageKey } from '../i18n/en.js';
import { Link, useLocation } from '../router/router.js';

/** One entry of the main navigation. */
export interface NavItem {
  readonly href: string;
  readonly label: MessageKey;
  /** Who sees it (default: everyone signed in). */
  readonly roles?: readonly SessionUser['role'][];
}

/** The main navigation, in order. */
export const navItems: readonly NavItem[] = [
  { href: '/servers', label: 'nav.servers' },
  { href: '/incidents', label: 'incidents.nav' },
  { href: '/fleet', label: 'ops.nav.fleet', roles: ['technician', 'operator'] },
  { href: '/sessions', label: 'ops.nav.sessions', roles: ['technician', 'operator'] },
  { href: '/audit', label: 'ops.nav.audit', roles: ['operator'] },
  { href: '/users', label: 'ops.nav.users', roles: ['operator'] },
  { href: '/account', label: 'account.nav' },
];

/** The frame around every signed-in page. */
export function Shell({ children }: { children: ReactNode }) {
  const { t } = useI18n();
  const user = useUser();
  const { signOut } = useSession();
  const live = useLiveStatus();
  const { path } = useLocation();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);

  // After a navigation (not the first render), move focus to the page's heading.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    const heading = main.current?.querySelector<HTMLElement>('h1');
    heading?.focus();
  }, [path]);

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        {t('app.skip')}
      </a>
      <header className="top">
        <Link href="/servers" className="brand">
          <img src="/favicon.svg" alt="" width="24" height="24" />
          <span>{t('app.name')}</span>
        </Link>
        <nav aria-label={t('nav.label')}>
          <ul>
            {navItems
              .filter((item) => !item.roles || item.roles.includes(user.role))
              .map((item) => (
                <li key={item.href}>
                  <Link href={item.href} aria-current={path === item.href || path.startsWith(`${item.href}/`) ? 'page' : undefined}>
                    {t(item.label)}
                  </Link>
                </li>
              ))}
          </ul>
        </nav>
        <div className="top-tools">
          <span className={`live live-${live}`} role="status" title={live === 'open' ? t('app.live') : t('app.offline')}>
            <span className="live-dot" aria-hidden="true" />
            <span className="visually-hidden-mobile">{live === 'open' ? t('app.live') : t('app.offline')}</span>
          </span>
          <LanguageSwitch />
          <span className="user" title={t('nav.signedInAs', { name: user.name, role: t(`role.${user.role}`) })}>
            {user.name}
          </span>
          <button type="button" onClick={() => void signOut()}>
            {t('nav.signOut')}
          </button>
        </div>
      </header>
      <main id="main" ref={main}>
        {children}
      </main>
    </div>
  );
}
