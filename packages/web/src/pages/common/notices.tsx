/** Small shared pieces of the feature pages: an error line and an in-app link. */
import type { ReactNode } from 'react';
import { Link } from '../../router/router.js';
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

/** A link inside the console (the shell's router: a real `<a href>`, plain clicks stay in the page). */
export function AppLink({ to, children, className, current, label }: { readonly to: string; readonly children: ReactNode; readonly className?: string; readonly current?: boolean; readonly label?: string }) {
  return (
    <Link href={to} {...(className ? { className } : {})} {...(current ? { 'aria-current': 'page' as const } : {})} {...(label ? { 'aria-label': label } : {})}>
      {children}
    </Link>
  );
}
