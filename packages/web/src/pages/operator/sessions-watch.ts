/** Which rescue sessions need a person: about to expire, failed, or whose agent stopped answering. */
import type { RescueView, ServerView } from '@lifeboat/core/api';

/** Why a session is on the watch list. */
export type Concern = 'expiring' | 'failed' | 'agentSilent';

/** A server that needs attention, with its session when it has one. */
export interface Watched {
  readonly server: ServerView;
  readonly rescue: RescueView | null;
  readonly concerns: readonly Concern[];
}

/** States in which a session is open (its rescue view has a lease and an agent). */
export const openSessionStates: ReadonlySet<string> = new Set(['rescue_requested', 'preparing_rescue', 'rescue', 'exiting_rescue']);
/** A lease ending within this is "about to expire". */
export const expiringWithinMs = 30 * 60 * 1000;

/** The concerns of one server (none: it is not shown). */
export function concernsOf(server: ServerView, rescue: RescueView | null, now: number): Concern[] {
  const concerns: Concern[] = [];
  if (server.state === 'rescue_failed' || server.state === 'exit_failed') concerns.push('failed');
  if (rescue?.expiresAt && new Date(rescue.expiresAt).getTime() - now <= expiringWithinMs && openSessionStates.has(rescue.state)) concerns.push('expiring');
  if (rescue?.agent.responding === false) concerns.push('agentSilent');
  return concerns;
}
