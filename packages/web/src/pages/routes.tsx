/** The feature pages' routes (tests, console, desktop, files, incidents, operator pages, account), registered by the app. */
import './pages.css';
import type { Route } from '../router/router.js';
import { AccountPage } from './account/account-page.js';
import { ConsolePage } from './console/console-page.js';
import { DesktopPage } from './desktop/desktop-page.js';
import { FilesPage } from './files/files-page.js';
import { DeclareIncidentPage } from './incidents/declare-page.js';
import { IncidentPage } from './incidents/incident-page.js';
import { IncidentsPage } from './incidents/incidents-page.js';
import { AuditPage } from './operator/audit-page.js';
import { ChangeBmcPage } from './operator/change-bmc.js';
import { FleetPage } from './operator/fleet-page.js';
import { RegisterServerPage } from './operator/register-server.js';
import { SessionsPage } from './operator/sessions-page.js';
import { UsersPage } from './operator/users-page.js';
import { TestsPage } from './tests/tests-page.js';

/** The routes; the API decides who may see what (a page a role may not use shows its error). */
export const pageRoutes: readonly Route[] = [
  { path: '/servers/:name/tests', render: ({ name }) => <TestsPage key={name} name={name as string} /> },
  { path: '/servers/:name/console', render: ({ name }) => <ConsolePage key={name} name={name as string} /> },
  { path: '/servers/:name/desktop', render: ({ name }) => <DesktopPage key={name} name={name as string} /> },
  { path: '/servers/:name/files', render: ({ name }) => <FilesPage key={name} name={name as string} /> },
  { path: '/servers/:name/incidents/new', render: ({ name }) => <DeclareIncidentPage key={name} name={name as string} /> },
  { path: '/incidents', render: () => <IncidentsPage /> },
  { path: '/incidents/:id', render: ({ id }) => <IncidentPage key={id} id={id as string} /> },
  { path: '/fleet', render: () => <FleetPage /> },
  { path: '/fleet/new', render: () => <RegisterServerPage /> },
  { path: '/fleet/:name/bmc', render: ({ name }) => <ChangeBmcPage key={name} name={name as string} /> },
  { path: '/sessions', render: () => <SessionsPage /> },
  { path: '/audit', render: () => <AuditPage /> },
  { path: '/users', render: () => <UsersPage /> },
  { path: '/account', render: () => <AccountPage /> },
];
