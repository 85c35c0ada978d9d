/**
 * The contract of hardware tests, the partition explorer and incidents (issue 11): what a customer
 * starts from the API, the CLI (and later the web console), and what the agent in the rescue system
 * receives and reports. Pure data: no I/O, bundled for the agent (QuickJS) and the browser.
 *
 * Flow of a test: `POST /v1/servers/{name}/tests` records a test (`queued`) and queues agent work of
 * kind {@link hardwareTestWork} with {@link HardwareTestWorkParams}; the agent, long-polling
 * `GET /v1/agent/work`, runs it, reports progress with `POST /v1/agent/work/{id}/progress`
 * ({@link WorkProgress}, answered with {@link WorkProgressAnswer}: `cancel: true` asks it to stop), and
 * ends it with `POST /v1/agent/work/{id}/result` whose `result` is a {@link HardwareTestOutcome}.
 * Tests started from SSH (`rescue-tests` in the rescue system) are recorded by the agent with
 * `POST /v1/agent/tests` and land in the same history.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { LifeboatError } from '../errors.js';

const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** The tests a customer can run (the CLI's `tests run NAME KIND`). */
export const hardwareTestKinds = ['disk', 'smart', 'readtest', 'cpu', 'memory', 'partitions', 'fsck'] as const;
/** One of {@link hardwareTestKinds}. */
export type HardwareTestKind = (typeof hardwareTestKinds)[number];
/** Kinds that need a device argument (`sda`, `sda1`, `md0`, `vg0/root`). */
export const deviceTestKinds: ReadonlySet<HardwareTestKind> = new Set(['smart', 'readtest', 'fsck']);

/** Where a test stands. `failed`: the hardware failed the test; `error`: the test itself could not run. */
export const hardwareTestStatuses = ['queued', 'running', 'passed', 'failed', 'cancelled', 'error'] as const;
export type HardwareTestStatus = (typeof hardwareTestStatuses)[number];
/** Statuses after which nothing changes any more. */
export const finishedTestStatuses: ReadonlySet<HardwareTestStatus> = new Set(['passed', 'failed', 'cancelled', 'error']);

/** The agent work kind that runs a hardware test (a plain constant, for the agent's bundle). */
export { hardwareTestWork } from '../agent-work.js';

const KindSchema = Type.Unsafe<HardwareTestKind>({ type: 'string', enum: [...hardwareTestKinds] });
const StatusSchema = Type.Unsafe<HardwareTestStatus>({ type: 'string', enum: [...hardwareTestStatuses] });
/** A block device name as the rescue system sees it, without `/dev/`: `sda`, `sda1`, `nvme0n1p2`, `md0`, `vg0/root`. */
export const DeviceName = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._+-]*(/[A-Za-z0-9][A-Za-z0-9._+-]*)?$' });

/** `POST /v1/servers/{name}/tests`. Durations and sizes are strings like the CLI's (`60s`, `10m`; `256M`, `2G`). */
export const NewHardwareTest = Type.Object(
  {
    kind: KindSchema,
    device: Type.Optional(DeviceName),
    duration: Type.Optional(Type.String({ maxLength: 16, description: 'cpu: how long to stress (default 60s, at most 24h)' })),
    size: Type.Optional(Type.String({ maxLength: 16, description: 'memory: how much to test (default: what the rescue can spare)' })),
    repair: Type.Optional(Type.Boolean({ description: 'fsck: repair instead of only checking (never by default)' })),
    selfTest: Type.Optional(Type.Union([Type.Literal('short'), Type.Literal('long')], { description: 'smart: which self-test (default short)' })),
  },
  { additionalProperties: false },
);
export type NewHardwareTest = Static<typeof NewHardwareTest>;

/** What the agent receives with {@link hardwareTestWork}: the test's id and its checked, parsed parameters. */
export const HardwareTestWorkParams = Type.Object({
  testId: Type.String(),
  kind: KindSchema,
  device: Nullable(Type.String()),
  durationSeconds: Nullable(Type.Integer({ minimum: 1 })),
  sizeBytes: Nullable(Type.Integer({ minimum: 1 })),
  repair: Type.Boolean(),
  selfTest: Nullable(Type.Union([Type.Literal('short'), Type.Literal('long')])),
});
export type HardwareTestWorkParams = Static<typeof HardwareTestWorkParams>;

/** `POST /v1/agent/work/{id}/progress`: sent at least every 5 s while work runs. */
export const WorkProgress = Type.Object(
  {
    /** 0–100; only goes up. */
    progress: Type.Number({ minimum: 0, maximum: 100 }),
    /** One line for humans: "pass 2 of 3: random value, 41 %". */
    summary: Type.Optional(Type.String({ maxLength: 500 })),
    /** New output since the last report (appended to the test's kept output, bounded). */
    output: Type.Optional(Type.String({ maxLength: 65_536 })),
  },
  { additionalProperties: false },
);
export type WorkProgress = Static<typeof WorkProgress>;
/** The answer to a progress report: whether the user cancelled the work (the agent then stops it). */
export const WorkProgressAnswer = Type.Object({ cancel: Type.Boolean() });
export type WorkProgressAnswer = Static<typeof WorkProgressAnswer>;

/** The `result` of a finished hardware test's work (`POST /v1/agent/work/{id}/result`). */
export const HardwareTestOutcome = Type.Object({
  status: Type.Union([Type.Literal('passed'), Type.Literal('failed'), Type.Literal('cancelled'), Type.Literal('error')]),
  summary: Type.String({ maxLength: 2000 }),
  /** Structured figures of the kind (SMART attributes, bogo ops, errors found, throughput, ...). */
  result: Type.Unknown(),
  /** The end of the output not yet sent with progress. */
  output: Type.Optional(Type.String({ maxLength: 65_536 })),
});
export type HardwareTestOutcome = Static<typeof HardwareTestOutcome>;

/** A test as the API and the CLI show it (`tests run/show --json`: id, kind, device, status, progress, summary, result). */
export const HardwareTestSchema = Type.Object({
  id: Type.String(),
  server: Type.String(),
  sessionId: Nullable(Type.String()),
  kind: KindSchema,
  device: Nullable(Type.String()),
  status: StatusSchema,
  progress: Type.Number(),
  summary: Nullable(Type.String()),
  result: Type.Unknown(),
  /** How it was started: `api` (API, CLI, console) or `ssh` (`rescue-tests` in the rescue system). */
  origin: Type.Union([Type.Literal('api'), Type.Literal('ssh')]),
  params: Type.Object({ durationSeconds: Nullable(Type.Integer()), sizeBytes: Nullable(Type.Integer()), repair: Type.Boolean(), selfTest: Nullable(Type.String()) }),
  createdAt: Type.String(),
  startedAt: Nullable(Type.String()),
  endedAt: Nullable(Type.String()),
});
export type HardwareTestView = Static<typeof HardwareTestSchema>;
export const HardwareTestList = Type.Object({ server: Type.String(), tests: Type.Array(HardwareTestSchema) });
export type HardwareTestList = Static<typeof HardwareTestList>;

/** `POST /v1/agent/tests`: a test the customer started from SSH; the agent runs it as it would run work. */
export const AgentNewHardwareTest = Type.Object({ params: Type.Omit(HardwareTestWorkParams, ['testId']) }, { additionalProperties: false });
export type AgentNewHardwareTest = Static<typeof AgentNewHardwareTest>;
/** The answer: the new test's id and the id of the work the agent reports progress and result on. */
export const AgentHardwareTestCreated = Type.Object({ testId: Type.String(), workId: Type.String() });
export type AgentHardwareTestCreated = Static<typeof AgentHardwareTestCreated>;

// Added by part F (additive): parsing of the request's strings, the routes' parameters and answers.

/** Longest cpu stress a test may ask for. */
export const maxTestDurationSeconds = 24 * 3600;
/** Largest memory test a request may ask for (1 TiB). */
export const maxTestSizeBytes = 1024 ** 4;
/** How much of a test's output is kept: the last 1 MiB (older output is dropped, a marker says so). */
export const keptTestOutputBytes = 1024 * 1024;

/**
 * A test duration (`60s`, `10m`, `1h`, `90`: seconds) in whole seconds: more than 0, at most 24 h.
 * Throws `BAD_REQUEST` with a message a user can act on.
 */
export function parseTestDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/i.exec(text.trim());
  if (!match) throw new LifeboatError('BAD_REQUEST', `not a test duration: ${JSON.stringify(text)} (e.g. 60s, 10m, 2h)`);
  const seconds = Math.round(Number(match[1]) * { s: 1, m: 60, h: 3600 }[(match[2] ?? 's').toLowerCase() as 's' | 'm' | 'h']);
  if (seconds <= 0) throw new LifeboatError('BAD_REQUEST', `a test duration must be at least 1s (got ${text})`);
  if (seconds > maxTestDurationSeconds) throw new LifeboatError('BAD_REQUEST', `a test may last at most 24h (got ${text})`);
  return seconds;
}

/**
 * A memory size (`256M`, `2G`, `1T`, `512K`, binary units; a bare number is bytes) in bytes: more
 * than 0, at most 1 TiB. Throws `BAD_REQUEST`.
 */
export function parseTestSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT])?(i?B)?$/i.exec(text.trim());
  if (!match) throw new LifeboatError('BAD_REQUEST', `not a size: ${JSON.stringify(text)} (e.g. 256M, 2G)`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[(match[2] ?? '').toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  const bytes = Math.floor(Number(match[1]) * unit);
  if (bytes <= 0) throw new LifeboatError('BAD_REQUEST', `a memory test size must be more than 0 (got ${text})`);
  if (bytes > maxTestSizeBytes) throw new LifeboatError('BAD_REQUEST', `a memory test may cover at most 1T (got ${text})`);
  return bytes;
}

/** `/v1/servers/{name}/tests/{id}`. */
export const TestParams = Type.Object({ name: Type.String({ minLength: 1, maxLength: 63 }), id: Type.String({ minLength: 1, maxLength: 64 }) });
export type TestParams = Static<typeof TestParams>;
/** `GET /v1/servers/{name}/tests/{id}/output`: the kept output as `text/plain` (the last {@link keptTestOutputBytes}). */
export const HardwareTestOutput = Type.String({ description: 'the test output, text/plain; at most the last 1 MiB is kept' });
/** The `test` event of `GET /v1/events`: a test changed (at most a few per second per test). */
export const HardwareTestEvent = Type.Object({ test: HardwareTestSchema });
export type HardwareTestEvent = Static<typeof HardwareTestEvent>;
