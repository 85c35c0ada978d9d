/** `/servers/:name/tests`: the tests tab of a server (the form only while it is in rescue). */
import type { ServerView } from '@lifeboat/core';
import { useLiveEvents } from '../common/live-events.js';
import { ErrorNote } from '../common/notices.js';
import { usePage } from '../common/page-context.js';
import { useResource } from '../common/use-resource.js';
import { useState } from 'react';
import { TestsPanel } from './tests-panel.js';

/** The tab. */
export function TestsPage({ name }: { readonly name: string }) {
  const { client } = usePage();
  const server = useResource(`server:${name}`, () => client.getServer(name));
  const [live, setLive] = useState<ServerView | null>(null);
  useLiveEvents(name, { onServer: (event) => setLive(event.server) });
  const current = live ?? server.data;
  if (server.error && !current) return <ErrorNote error={server.error} />;
  if (!current) return null;
  return <TestsPanel server={name} canRun={current.state === 'rescue'} />;
}
