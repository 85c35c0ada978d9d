/** A real control plane in the test's own process, for tests of its clients (the agent, the lab). */
import { parseConfig, startControlPlane, type RunningControlPlane } from '@lifeboat/control-plane';

export type { RunningControlPlane };

/** Where and how it runs. */
export interface InProcessControlPlaneOptions {
  /** Data directory (SQLite, `admin.token`). */
  readonly dataDir: string;
  /** `HOST:PORT` (default `127.0.0.1:0`: a free port, in `url` once started). */
  readonly listen?: string;
  /** pino level (default `warn`). */
  readonly logLevel?: string;
}

/**
 * Starts the control plane with the default BMC drivers and no rescue image, from flags only: the
 * test's `LIFEBOAT_*` environment is not read, so that nothing of the machine leaks in.
 */
export function startControlPlaneInProcess(options: InProcessControlPlaneOptions): Promise<RunningControlPlane> {
  const flags = ['--data', options.dataDir, '--listen', options.listen ?? '127.0.0.1:0', '--console-listen', '127.0.0.1:0', '--log-level', options.logLevel ?? 'warn'];
  return startControlPlane(parseConfig(flags, {}, options.dataDir));
}
