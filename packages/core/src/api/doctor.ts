/**
 * The contract of the rescue doctor (issue 15): what the agent finds wrong with the installed system
 * once the rescue is ready, and the fixes it can apply in one step. Pure data: no I/O, bundled for the
 * agent (QuickJS) and the browser.
 *
 * Flow: after `ready`, the agent mounts the installed system read-only in a private mount, runs the
 * checks, and reports a {@link DoctorReport} with `POST /v1/agent/doctor` (first `running`, then `done`
 * or `failed`); it never delays `ready`. A customer reads it with `GET /v1/servers/{name}/doctor`
 * (`lifeboat doctor NAME`). `POST /v1/servers/{name}/doctor/findings/{id}/fix` (and `/undo`) queue agent
 * work of kind {@link doctorFixWork} / {@link doctorUndoWork} with {@link DoctorFixWorkParams}; the
 * agent mounts read-write, changes the files (keeping `FILE.lifeboat-<time>` beside each), unmounts
 * cleanly, and ends the work with `POST /v1/agent/work/{id}/result` whose `result` is a
 * {@link DoctorFixOutcome}. `rescue-doctor` in the rescue system prints the same findings.
 */
import { Type, type Static, type TLiteral, type TUnion } from '@sinclair/typebox';

/**
 * One of `values`, as a union of literals: unlike `Type.Unsafe({enum})`, TypeBox's `Value.Check` knows
 * it, so that the control plane can check an agent's `DoctorFixOutcome` (and the agent a report) as data.
 */
function oneOf<T extends string>(values: readonly T[]): TUnion<Array<TLiteral<T>>> {
  return Type.Union(values.map((value) => Type.Literal(value)));
}

/** The checks the doctor runs, one name each (a finding's `check`). */
export const doctorChecks = [
  'fstab',
  'filesystem-full',
  'filesystem-errors',
  'sshd',
  'firewall',
  'network-interface',
  'boot-entry',
  'raid',
  'root-login',
  'journal',
  'windows-hibernation',
  'windows-boot',
  'windows-accounts',
] as const;
/** One of {@link doctorChecks}. */
export type DoctorCheck = (typeof doctorChecks)[number];

/** `critical`: the system will not boot or not answer SSH; `warning`: it may; `info`: worth knowing. */
export const doctorSeverities = ['critical', 'warning', 'info'] as const;
export type DoctorSeverity = (typeof doctorSeverities)[number];

/**
 * The fixes the doctor applies in one step (a finding's `fix.kind`):
 * - `fstab-nofail`: add `nofail` to a dead fstab line (the boot no longer waits for the device);
 * - `firewall-disable`: disable the installed firewall's service (nftables, netfilter-persistent, ufw) for the next boot;
 * - `network-rename`: rename the missing interface to the one present in the network configuration;
 * - `sshd-config`: comment out the lines of the installed sshd_config that `sshd -t` rejects, and unmask/enable ssh;
 * - `root-password`: set a new root password (the control plane generates it and sends the agent only its hash).
 */
export const doctorFixKinds = ['fstab-nofail', 'firewall-disable', 'network-rename', 'sshd-config', 'root-password'] as const;
export type DoctorFixKind = (typeof doctorFixKinds)[number];

/** The agent work kinds that apply and undo the fix of one finding (plain constants, for the agent's bundle). */
export { doctorFixWork, doctorUndoWork } from '../agent-work.js';

/** A finding's id: stable for the same fault across runs of one rescue (`fstab-data`, `firewall-nftables`). */
export const DoctorFindingId = Type.String({ minLength: 1, maxLength: 80, pattern: '^[a-z0-9][a-z0-9.-]*$' });

const Evidence = Type.Object(
  {
    file: Type.Optional(Type.String({ maxLength: 4096, description: 'path in the installed system, as it would be seen booted (/etc/fstab)' })),
    line: Type.Optional(Type.Integer({ minimum: 1, description: 'line number in `file`' })),
    command: Type.Optional(Type.String({ maxLength: 1024, description: 'the command whose output this is (sshd -t, journalctl ...)' })),
    text: Type.String({ maxLength: 8192, description: 'the line, or the output, as it is' }),
  },
  { additionalProperties: false },
);
export type DoctorEvidence = Static<typeof Evidence>;

/** One thing found wrong. */
export const DoctorFinding = Type.Object(
  {
    id: DoctorFindingId,
    check: oneOf(doctorChecks),
    severity: oneOf(doctorSeverities),
    summary: Type.String({ maxLength: 1024, description: 'what is wrong and its effect, one or two sentences' }),
    evidence: Type.Array(Evidence, { maxItems: 50 }),
    fix: Type.Optional(
      Type.Object(
        {
          kind: oneOf(doctorFixKinds),
          description: Type.String({ maxLength: 1024, description: 'what the fix changes, before it is applied' }),
          state: oneOf(['available', 'applied'] as const),
          changedFiles: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 20, description: 'once applied: each changed file; its copy is FILE.lifeboat-<time>' })),
          backups: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 20, description: 'once applied: the copy kept of each changed file (FILE.lifeboat-<time>), in the order of changedFiles' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type DoctorFinding = Static<typeof DoctorFinding>;

/** The doctor's last run on a rescue session. */
export const DoctorReport = Type.Object(
  {
    state: oneOf(['running', 'done', 'failed'] as const),
    startedAt: Type.String({ format: 'date-time' }),
    finishedAt: Type.Optional(Type.String({ format: 'date-time' })),
    durationMs: Type.Optional(Type.Integer({ minimum: 0 })),
    installedSystem: Type.Optional(Type.String({ maxLength: 256, description: 'the root file system examined: /dev/vg0/root (ext4)' })),
    error: Type.Optional(Type.String({ maxLength: 1024, description: 'failed: why (no installed system found, ...)' })),
    findings: Type.Array(DoctorFinding, { maxItems: 100 }),
  },
  { additionalProperties: false },
);
export type DoctorReport = Static<typeof DoctorReport>;

/** What the agent receives with {@link doctorFixWork} and {@link doctorUndoWork}. */
export const DoctorFixWorkParams = Type.Object(
  {
    findingId: DoctorFindingId,
    /** `root-password` only: the SHA-512-crypt hash of the new password (never the password). */
    passwordHash: Type.Optional(Type.String({ maxLength: 256 })),
  },
  { additionalProperties: false },
);
export type DoctorFixWorkParams = Static<typeof DoctorFixWorkParams>;

/** The `result` of a doctor fix or undo: the finding as it now stands, or why it could not be done. */
export const DoctorFixOutcome = Type.Object(
  {
    ok: Type.Boolean(),
    finding: Type.Optional(DoctorFinding),
    error: Type.Optional(Type.Object({ code: Type.String({ maxLength: 64 }), message: Type.String({ maxLength: 1024 }) }, { additionalProperties: false })),
  },
  { additionalProperties: false },
);
export type DoctorFixOutcome = Static<typeof DoctorFixOutcome>;

// The control plane's side (issue 15): what `GET /v1/servers/{name}/doctor` and the fix routes answer.

/** A fix or undo asked of one finding: pending until the agent answers, then `done` or `failed`. */
export const DoctorFixView = Type.Object(
  {
    id: Type.String({ description: 'the agent work that carries it (`GET /v1/servers/{name}/doctor/fixes/{id}`)' }),
    server: Type.String(),
    findingId: DoctorFindingId,
    action: oneOf(['fix', 'undo'] as const),
    state: oneOf(['pending', 'done', 'failed'] as const),
    requestedAt: Type.String({ format: 'date-time' }),
    endedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    finding: Type.Union([DoctorFinding, Type.Null()], { description: 'done: the finding as it now stands (its fix `applied`, or `available` again after an undo)' }),
    error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false }), Type.Null()], { description: 'failed: why' }),
  },
  { additionalProperties: false },
);
export type DoctorFixView = Static<typeof DoctorFixView>;

/** The answer to `POST .../doctor/findings/{id}/fix` and `/undo` (202). */
export const DoctorFixAnswer = Type.Object(
  {
    ...DoctorFixView.properties,
    password: Type.Optional(Type.String({ description: '`root-password` fix only: the new root password, shown this once (never stored, never mailed)' })),
  },
  { additionalProperties: false },
);
export type DoctorFixAnswer = Static<typeof DoctorFixAnswer>;

/** `GET /v1/servers/{name}/doctor`: the doctor's report on the server's rescue session. */
export const DoctorView = Type.Object(
  {
    server: Type.String(),
    sessionId: Type.String(),
    /** True while that session is the server's rescue in progress; false: the report of the last rescue, which is over. */
    current: Type.Boolean(),
    receivedAt: Type.String({ format: 'date-time', description: 'when the agent sent this report' }),
    report: DoctorReport,
    fixes: Type.Array(DoctorFixView, { description: 'the fixes and undos asked during that session, newest first' }),
  },
  { additionalProperties: false },
);
export type DoctorView = Static<typeof DoctorView>;

/** Path parameters of a finding's routes. */
export const FindingParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }), id: DoctorFindingId });
export type FindingParams = Static<typeof FindingParams>;

/** Path parameters of one fix (`GET /v1/servers/{name}/doctor/fixes/{id}`). */
export const DoctorFixParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }), id: Type.String({ minLength: 1, maxLength: 64 }) });
export type DoctorFixParams = Static<typeof DoctorFixParams>;

/** A `doctor` event of `GET /v1/events`: a server's doctor report changed (a new report, a fix asked or answered). */
export interface DoctorEvent {
  readonly doctor: DoctorView;
}
