/** JSON views of records, as the API answers them. */
import { rescueStatus, stepTitles, type RescueSession, type Server, type Task } from '@lifeboat/core';

/** A server for the API. */
export function serverView(server: Server, tenantName: string, session?: RescueSession) {
  return {
    id: server.id,
    name: server.name,
    tenant: tenantName,
    macs: [...server.macs],
    bmc: { driver: server.bmc.driver, url: server.bmc.url, user: server.bmc.user },
    sshEndpoint: server.sshEndpoint ? `${server.sshEndpoint.host.includes(':') ? `[${server.sshEndpoint.host}]` : server.sshEndpoint.host}:${server.sshEndpoint.port}` : null,
    console: server.console,
    profiles: [...server.profiles],
    state: server.state,
    status: rescueStatus(server.state),
    reason: session && session.endedAt === null ? session.reason : null,
    createdAt: server.createdAt.toISOString(),
  };
}

/** A task with its steps for the API. */
export function taskView(task: Task) {
  return {
    id: task.id,
    kind: task.kind,
    state: task.state,
    sessionId: task.sessionId,
    createdAt: task.createdAt.toISOString(),
    endedAt: task.endedAt?.toISOString() ?? null,
    steps: task.steps.map((s) => ({
      name: s.name,
      title: stepTitles[s.name] ?? s.name.replace(/_/g, ' '),
      state: s.state,
      startedAt: s.startedAt?.toISOString() ?? null,
      endedAt: s.endedAt?.toISOString() ?? null,
      detail: s.detail,
    })),
  };
}
