/**
 * Tasks: what the control plane did to a server, as ordered steps with times, like rufio's BMC tasks.
 * A rescue's task is its boot timeline.
 */

/** Kinds of task. */
export type TaskKind = 'enter_rescue' | 'exit_rescue';

/** State of a task or of one of its steps. */
export type StepState = 'pending' | 'running' | 'completed' | 'failed' | 'skipped';

/** One step of a task. */
export interface TaskStep {
  /** Stable step name (`boot_device_set`). */
  readonly name: string;
  readonly state: StepState;
  readonly startedAt: Date | null;
  readonly endedAt: Date | null;
  /** What happened, e.g. the error message of a failed step. */
  readonly detail: string | null;
}

/** A task with its ordered steps. */
export interface Task {
  readonly id: string;
  readonly serverId: string;
  readonly sessionId: string | null;
  readonly kind: TaskKind;
  readonly state: StepState;
  readonly steps: readonly TaskStep[];
  readonly createdAt: Date;
  readonly endedAt: Date | null;
}

/** The boot timeline of entering rescue, in order. */
export const enterRescueSteps = [
  'validated',
  'boot_device_set',
  'power_cycled',
  'ipxe_script_served',
  'kernel_fetched',
  'initrd_fetched',
  'rootfs_fetched',
  'agent_started',
  'host_keys_reported',
  'ready',
] as const;

/** The steps of leaving rescue, in order. */
export const exitRescueSteps = ['boot_device_set', 'rebooted', 'os_answered', 'agent_token_revoked'] as const;

/** Human titles of the steps, for the CLI and the console. */
export const stepTitles: Readonly<Record<string, string>> = {
  validated: 'validated',
  boot_device_set: 'boot device set',
  power_cycled: 'power cycled',
  ipxe_script_served: 'iPXE script served',
  kernel_fetched: 'kernel fetched',
  initrd_fetched: 'initrd fetched',
  rootfs_fetched: 'root file system fetched',
  credentials_written: 'credentials written',
  sshd_started: 'sshd started',
  agent_started: 'agent started',
  host_keys_reported: 'host keys reported',
  ready: 'ready',
  rebooted: 'rebooted',
  os_answered: 'installed system answers',
  agent_token_revoked: 'agent token revoked',
};
