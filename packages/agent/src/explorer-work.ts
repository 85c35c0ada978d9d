/**
 * The explorer's work kinds for the agent's handler map: each checks its parameters, runs the
 * explorer and answers either the result or a failure whose `result.code` is the error code the user
 * gets (`PATH_INVALID`, `DEVICE_BUSY`, ...), its message the user's message.
 */
import { filesDownloadWork, filesListWork, filesReadWork, journalReadWork, maxContentLength } from '@lifeboat/core/api';
import type { FilesReadWorkParams, FilesWorkParams, JournalWorkParams } from '@lifeboat/core/api';
import { LifeboatError } from '@lifeboat/core/errors';
import type { JobHandler, JobOutcome } from './agent.js';
import type { ControlPlaneClient } from './control-plane-client.js';
import type { Explorer } from './explorer.js';

const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const int = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

function filesParams(params: unknown): FilesWorkParams {
  const p = (params ?? {}) as Record<string, unknown>;
  if (!str(p.device) || !str(p.path)) throw new LifeboatError('BAD_REQUEST', 'explorer work needs a device and a path');
  return { device: p.device, path: p.path };
}

/** Runs one explorer call; a `LifeboatError` becomes a failed result carrying its code. */
async function answer(call: () => Promise<unknown>): Promise<JobOutcome> {
  try {
    return { state: 'completed', result: await call() };
  } catch (error) {
    if (error instanceof LifeboatError) return { state: 'failed', message: error.message, result: { code: error.code } };
    throw error;
  }
}

/** The handlers of `files_list`, `files_read`, `files_download` and `journal_read`. */
export function explorerHandlers(explorer: Explorer, client: Pick<ControlPlaneClient, 'uploadTarget'> | undefined): Array<[string, JobHandler]> {
  return [
    [filesListWork, (params, stop) => answer(() => explorer.list(filesParams(params), stop))],
    [
      filesReadWork,
      (params, stop) =>
        answer(() => {
          const p = (params ?? {}) as Record<string, unknown>;
          const offset = int(p.offset) && p.offset >= 0 ? p.offset : 0;
          const length = int(p.length) && p.length > 0 ? Math.min(p.length, maxContentLength) : 65_536;
          return explorer.read({ ...filesParams(params), offset, length } satisfies FilesReadWorkParams, stop);
        }),
    ],
    [
      filesDownloadWork,
      (params, stop, job) =>
        answer(() => {
          if (!client) throw new LifeboatError('AGENT_UNAVAILABLE', 'this agent cannot upload (no control plane client)');
          return explorer.download(filesParams(params), client.uploadTarget(job.id), job.id, stop);
        }),
    ],
    [
      journalReadWork,
      (params, stop) =>
        answer(() => {
          const p = (params ?? {}) as Record<string, unknown>;
          if (!str(p.device)) throw new LifeboatError('BAD_REQUEST', 'journal work needs a device');
          const work: JournalWorkParams = { device: p.device, lines: int(p.lines) ? p.lines : 200, boot: int(p.boot) ? p.boot : -1, priority: str(p.priority) ? p.priority : null };
          return explorer.journal(work, stop);
        }),
    ],
  ];
}
