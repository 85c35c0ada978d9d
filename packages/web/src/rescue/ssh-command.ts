/** The `ssh` command of a rescue system, as the CLI prints it. */
import type { RescueView } from '@lifeboat/core/api';

/** `ssh [-p PORT] USER@HOST`, as the CLI prints it; null without a host. */
export function sshCommand(ssh: RescueView['ssh']): string | null {
  if (!ssh.host) return null;
  return `ssh ${ssh.port && ssh.port !== 22 ? `-p ${ssh.port} ` : ''}${ssh.user}@${ssh.host}`;
}
