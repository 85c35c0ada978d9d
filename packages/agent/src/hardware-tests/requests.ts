/**
 * Tests started from SSH with `rescue-tests run`: the helper drops a request file into
 * `/run/lifeboat/test-requests/` (root only; no network port), the agent picks it up, records the
 * test with `POST /v1/agent/tests` (so that it lands in the server's history like an API test) and runs
 * it as that work; it writes the test's status to `/run/lifeboat/tests/<request>.status`, which the
 * helper follows until the outcome is in.
 */
import type { AgentNewHardwareTest, HardwareTestOutcome } from '@lifeboat/core/api';
import { joinPath } from '../platform.js';
import type { Platform } from '../platform.js';

/** Where `rescue-tests` drops requests (relative to the root). */
export const requestsDir = 'run/lifeboat/test-requests';
/** Where the agent writes what became of them. */
export const requestStatusDir = 'run/lifeboat/tests';

/** What the helper follows. */
export interface RequestStatus {
  readonly testId: string | null;
  readonly status: 'running' | HardwareTestOutcome['status'];
  readonly progress: number;
  readonly summary: string;
  readonly result?: unknown;
}

/** A request the helper dropped: its id (the file's name) and the test's parameters. */
export interface TestRequest {
  readonly requestId: string;
  readonly body: AgentNewHardwareTest;
}

/** Takes the complete requests (`*.json`; the helper writes `*.tmp` and renames) out of the directory. */
export async function takeRequests(platform: Platform, rootDir: string): Promise<TestRequest[]> {
  const dir = joinPath(rootDir, requestsDir);
  let names: string[];
  try {
    names = await platform.readdir(dir);
  } catch {
    return [];
  }
  const taken: TestRequest[] = [];
  for (const name of names.filter((n) => /^[A-Za-z0-9_-]{1,64}\.json$/.test(n))) {
    const requestId = name.slice(0, -'.json'.length);
    const claimed = joinPath(dir, `${requestId}.taken`);
    try {
      await platform.rename(joinPath(dir, name), claimed);
    } catch {
      continue;
    }
    let params: unknown = null;
    try {
      params = JSON.parse(await platform.readText(claimed));
    } catch {
      // an unreadable request: the test's own checks answer it
    }
    await platform.run('rm', ['-f', claimed]);
    taken.push({ requestId, body: { params: params as AgentNewHardwareTest['params'] } });
  }
  return taken;
}

/**
 * The status file's text: `key=value` lines a shell reads with sed (the rescue system has no jq); the
 * summary on one line, the result as one line of JSON.
 */
export function requestStatusText(status: RequestStatus): string {
  const oneLine = (s: string): string => s.replace(/[\r\n]+/g, ' ');
  return [
    `test=${status.testId ?? ''}`,
    `status=${status.status}`,
    `progress=${Math.floor(status.progress)}`,
    `summary=${oneLine(status.summary)}`,
    ...(status.result === undefined ? [] : [`result=${JSON.stringify(status.result) ?? 'null'}`]),
  ].join('\n') + '\n';
}

/** Writes a request's status to `<request>.status` (atomically: the helper never reads half a file). */
export async function writeRequestStatus(platform: Platform, rootDir: string, requestId: string, status: RequestStatus): Promise<void> {
  const dir = joinPath(rootDir, requestStatusDir);
  await platform.mkdir(dir, 0o700);
  const file = joinPath(dir, `${requestId}.status`);
  await platform.writeText(`${file}.tmp`, requestStatusText(status), 0o600);
  await platform.rename(`${file}.tmp`, file);
}
