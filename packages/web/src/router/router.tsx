/**
 * A small router over the History API: routes are path patterns (`/servers/:name`), links are real
 * `<a href>` (middle-click and keyboard work) whose plain clicks are handled here. On each navigation
 * focus moves to the main heading so screen readers announce the new page.
 */
import { createContext, useContext, useEffect, useMemo, useState, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from 'react';

const listeners = new Set<() => void>();

/** Goes to a path of the console (pushes a history entry unless `replace`). */
export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  for (const listener of listeners) listener();
}

/** The current location (path and query), re-rendered on navigation. */
export function useLocation(): { path: string; search: URLSearchParams } {
  const [href, setHref] = useState(() => location.pathname + location.search);
  useEffect(() => {
    const update = () => setHref(location.pathname + location.search);
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return useMemo(() => {
    const url = new URL(href, location.origin);
    return { path: url.pathname, search: url.searchParams };
  }, [href]);
}

/** Matches `/servers/:name` against a path; the decoded parameters, or null. */
export function matchPath(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split('/').filter(Boolean);
  const have = path.split('/').filter(Boolean);
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    const h = have[i] as string;
    if (w.startsWith(':')) {
      try {
        params[w.slice(1)] = decodeURIComponent(h);
      } catch {
        return null;
      }
    } else if (w !== h) return null;
  }
  return params;
}

/** One route: a pattern and what it renders with its parameters. */
export interface Route {
  readonly path: string;
  readonly render: (params: Record<string, string>) => ReactNode;
}

const ParamsContext = createContext<Record<string, string>>({});

/** Renders the first matching route, else `fallback`. */
export function Routes({ routes, fallback }: { routes: readonly Route[]; fallback: ReactNode }) {
  const { path } = useLocation();
  for (const route of routes) {
    const params = matchPath(route.path, path);
    if (params) return <ParamsContext.Provider value={params}>{route.render(params)}</ParamsContext.Provider>;
  }
  return <>{fallback}</>;
}

/** The parameters of the matched route. */
export function useParams(): Record<string, string> {
  return useContext(ParamsContext);
}

/** A link inside the console. */
export function Link({ href, children, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    rest.onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href);
  };
  return (
    <a {...rest} href={href} onClick={onClick}>
      {children}
    </a>
  );
}
