/** Small shared pieces of the feature pages: an error line and an in-app link. */
import type { MouseEvent, ReactNode } from 'react';
import { usePage } from './page-context.js';

/** An error as a sentence, announced to screen readers; nothing when there is no error. */
export function ErrorNote({ error }: { readonly error: unknown }) {
  const { errorText } = usePage();
  if (error === undefined || error === null) return null;
  return (
    <p className="error" role="alert">
      {errorText(error)}
    </p>
  );
}

/** A link inside the console (no reload); a real `<a href>` so it opens in a new tab too. */
export function AppLink({ to, children, className }: { readonly to: string; readonly children: ReactNode; readonly className?: string }) {
  const { navigate } = usePage();
  const follow = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={follow} className={className}>
      {children}
    </a>
  );
}
