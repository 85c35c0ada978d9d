/**
 * `disk` (every disk: identity and SMART health) and `smart DEVICE` (a SMART self-test, followed to
 * its result). Both read smartctl's JSON output (smartmontools 7: `--json`).
 */
import type { Runner, TestContext } from './runner.js';
import { lastLines } from './runner.js';

/** One SMART attribute (ATA) or health field (NVMe). */
export interface SmartAttribute {
  readonly id: number | null;
  readonly name: string;
  readonly value: number | null;
  readonly worst: number | null;
  readonly threshold: number | null;
  readonly raw: string;
  /** `now`, `past` or null (smartctl's `when_failed`). */
  readonly failed: string | null;
}

/** What `smartctl --json -a` says about a disk. */
export interface SmartReport {
  readonly available: boolean;
  /** null when SMART is unavailable or the health could not be read. */
  readonly healthPassed: boolean | null;
  readonly model: string | null;
  readonly serial: string | null;
  readonly temperatureC: number | null;
  readonly powerOnHours: number | null;
  readonly attributes: SmartAttribute[];
  /** smartctl's own messages (errors). */
  readonly messages: string[];
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Parses `smartctl --json -a DEVICE` (ATA/SAT and NVMe). */
export function parseSmartReport(text: string): SmartReport {
  const j = obj(JSON.parse(text));
  const messages = (Array.isArray(obj(j.smartctl).messages) ? (obj(j.smartctl).messages as unknown[]) : []).map((m) => String(obj(m).string ?? ''));
  const support = obj(j.smart_support);
  const status = obj(j.smart_status);
  const attributes: SmartAttribute[] = [];
  const table = obj(j.ata_smart_attributes).table;
  if (Array.isArray(table)) {
    for (const a of table) {
      const o = obj(a);
      const whenFailed = str(o.when_failed);
      attributes.push({
        id: num(o.id),
        name: str(o.name) ?? '?',
        value: num(o.value),
        worst: num(o.worst),
        threshold: num(o.thresh),
        raw: String(obj(o.raw).string ?? obj(o.raw).value ?? ''),
        failed: whenFailed ? whenFailed : null,
      });
    }
  }
  for (const [name, value] of Object.entries(obj(j.nvme_smart_health_information_log))) {
    if (typeof value === 'number') attributes.push({ id: null, name, value: null, worst: null, threshold: null, raw: String(value), failed: null });
  }
  const nvme = Object.keys(obj(j.nvme_smart_health_information_log)).length > 0;
  const available = support.available === true || nvme;
  return {
    available,
    healthPassed: typeof status.passed === 'boolean' ? status.passed : null,
    model: str(j.model_name),
    serial: str(j.serial_number),
    temperatureC: num(obj(j.temperature).current),
    powerOnHours: num(obj(j.power_on_time).hours),
    attributes,
    messages,
  };
}

/** Where a self-test stands (`smartctl --json -c -l selftest`). */
export interface SelfTestState {
  /** Whether the device can run self-tests at all. */
  readonly supported: boolean;
  /** A test runs now. */
  readonly running: boolean;
  /** Percent remaining of the running test (null when not running or unknown). */
  readonly remainingPercent: number | null;
  /** The latest logged result, newest first: its status text and whether it passed. */
  readonly lastResult: { readonly type: string; readonly status: string; readonly passed: boolean; readonly hours: number | null } | null;
  /** How many results the log holds (a new entry means the test we started ended). */
  readonly logCount: number;
  /** Polling minutes smartctl recommends for short and long tests. */
  readonly pollingMinutes: { readonly short: number | null; readonly long: number | null };
}

/** Parses `smartctl --json -c -l selftest DEVICE` (ATA and NVMe). */
export function parseSelfTestState(text: string): SelfTestState {
  const j = obj(JSON.parse(text));
  const data = obj(j.ata_smart_data);
  if (Object.keys(data).length > 0) {
    const caps = obj(data.capabilities);
    const st = obj(obj(data.self_test).status);
    const value = num(st.value) ?? 0;
    const running = value >> 4 === 0xf;
    const log = obj(obj(j.ata_smart_self_test_log).standard);
    const table = Array.isArray(log.table) ? (log.table as unknown[]) : [];
    const first = obj(table[0]);
    const polling = obj(obj(data.self_test).polling_minutes);
    return {
      supported: caps.self_tests_supported === true,
      running,
      remainingPercent: running ? (num(st.remaining_percent) ?? (value & 0xf) * 10) : null,
      lastResult:
        table.length > 0
          ? { type: String(obj(first.type).string ?? ''), status: String(obj(first.status).string ?? ''), passed: obj(first.status).passed === true, hours: num(first.lifetime_hours) }
          : null,
      logCount: num(log.count) ?? table.length,
      pollingMinutes: { short: num(polling.short), long: num(polling.extended) },
    };
  }
  const nvmeLog = obj(j.nvme_self_test_log);
  if (Object.keys(nvmeLog).length > 0 || obj(j.nvme_controller_capabilities).self_test === true) {
    const op = num(obj(nvmeLog.current_self_test_operation).value) ?? 0;
    const table = Array.isArray(nvmeLog.table) ? (nvmeLog.table as unknown[]) : [];
    const first = obj(table[0]);
    const result = num(obj(first.self_test_result).value);
    return {
      supported: obj(j.nvme_controller_capabilities).self_test !== false,
      running: op !== 0,
      remainingPercent: op !== 0 ? 100 - (num(nvmeLog.current_self_test_completion_percent) ?? 0) : null,
      lastResult:
        table.length > 0
          ? { type: String(obj(first.self_test_code).string ?? ''), status: String(obj(first.self_test_result).string ?? ''), passed: result === 0, hours: num(first.power_on_hours) }
          : null,
      logCount: table.length,
      pollingMinutes: { short: 2, long: null },
    };
  }
  return { supported: false, running: false, remainingPercent: null, lastResult: null, logCount: 0, pollingMinutes: { short: null, long: null } };
}

/** One disk as lsblk lists it. */
export interface DiskIdentity {
  readonly name: string;
  readonly model: string | null;
  readonly serial: string | null;
  readonly sizeBytes: number;
  readonly transport: string | null;
  readonly rotational: boolean | null;
}

/** Parses `lsblk --json --bytes --nodeps -o NAME,TYPE,SIZE,MODEL,SERIAL,TRAN,ROTA`: the disks only. */
export function parseDisks(text: string): DiskIdentity[] {
  const devices = obj(JSON.parse(text)).blockdevices;
  if (!Array.isArray(devices)) return [];
  return devices
    .map(obj)
    .filter((d) => d.type === 'disk' && !/^(loop|ram|zram|sr|fd)\d/.test(String(d.name)))
    .map((d) => ({
      name: String(d.name),
      model: str(d.model)?.trim() ?? null,
      serial: str(d.serial)?.trim() ?? null,
      sizeBytes: Number(d.size ?? 0),
      transport: str(d.tran),
      rotational: typeof d.rota === 'boolean' ? d.rota : d.rota === '1' ? true : d.rota === '0' ? false : null,
    }));
}

/** `disk`: every disk, its identity and SMART health; passed unless a disk's SMART health fails. */
export const diskRunner: Runner = async (context) => {
  const listed = await context.run('lsblk', ['--json', '--bytes', '--nodeps', '-o', 'NAME,TYPE,SIZE,MODEL,SERIAL,TRAN,ROTA']);
  if (listed.status !== 0) return { status: 'error', summary: `lsblk failed: ${lastLines(listed.stderr)}`, result: null };
  const disks = parseDisks(listed.stdout);
  const results = [];
  let failing = 0;
  for (const [i, disk] of disks.entries()) {
    context.stop.throwIfStopped();
    context.progress((i / Math.max(disks.length, 1)) * 100, `reading SMART of ${disk.name}`);
    const smart = await readSmart(context, `/dev/${disk.name}`);
    if (smart?.healthPassed === false) failing++;
    // Without udev lsblk may not know an ATA disk's model and serial: SMART's identify data does.
    results.push({ ...disk, model: disk.model ?? smart?.model ?? null, serial: disk.serial ?? smart?.serial ?? null, smart });
  }
  const summary =
    disks.length === 0
      ? 'no disk found'
      : `${disks.length} disk(s): ${results.map((d) => `${d.name} ${d.smart === null || !d.smart.available ? 'no SMART' : d.smart.healthPassed === false ? 'SMART FAILING' : 'SMART ok'}`).join(', ')}`;
  return { status: failing > 0 ? 'failed' : 'passed', summary, result: { disks: results } };
};

async function readSmart(context: TestContext, path: string): Promise<SmartReport | null> {
  const answer = await context.run('smartctl', ['--json', '-a', path]);
  try {
    return parseSmartReport(answer.stdout);
  } catch {
    return null;
  }
}

/** `smart DEVICE`: starts a short (or long) self-test and follows it to its result. */
export const smartRunner: Runner = async (context) => {
  const device = context.device;
  if (!device) return { status: 'error', summary: 'smart needs a device', result: null };
  const path = `/dev/${device.disk}`;
  const kind = context.params.selfTest ?? 'short';
  const before = await selfTestState(context, path);
  if (!before?.supported) {
    return { status: 'error', summary: `${device.disk} does not support SMART self-tests (smartctl -c shows no self-test capability)`, result: null };
  }
  const started = await context.run('smartctl', ['--json', '-t', kind, path]);
  // smartctl's exit status is a bit mask; bits 0-1 mean the command itself failed.
  if ((started.status & 0x3) !== 0) return { status: 'error', summary: `smartctl could not start a ${kind} self-test: ${lastLines(started.stdout + started.stderr)}`, result: null };
  context.progress(1, `${kind} self-test started on ${device.disk}`);
  const pollMs = 5000;
  let state: SelfTestState | null = before;
  // A test that ended without a new log entry (aborted by the drive): give up after 3 idle polls.
  let idlePolls = 0;
  for (;;) {
    await context.platform.sleep(pollMs, context.stop);
    if (context.stop.stopped) {
      await context.platform.run('smartctl', ['-X', path]);
      throw context.stop.reason;
    }
    state = await selfTestState(context, path);
    if (!state) continue;
    if (state.running) {
      const remaining = state.remainingPercent ?? 100;
      context.progress(Math.min(99, 100 - remaining), `${kind} self-test on ${device.disk}: ${remaining} % remaining`);
      continue;
    }
    if (state.logCount > before.logCount || (state.lastResult && JSON.stringify(state.lastResult) !== JSON.stringify(before.lastResult))) break;
    if (++idlePolls >= 3) return { status: 'error', summary: `the ${kind} self-test of ${device.disk} ended without logging a result`, result: { device: device.disk, selfTest: kind } };
  }
  const last = state.lastResult;
  const passed = last?.passed === true;
  return {
    status: passed ? 'passed' : 'failed',
    summary: `${kind} self-test of ${device.disk}: ${last?.status ?? 'no result logged'}`,
    result: { device: device.disk, selfTest: kind, lastResult: last },
  };
};

async function selfTestState(context: TestContext, path: string): Promise<SelfTestState | null> {
  const answer = await context.run('smartctl', ['--json', '-c', '-l', 'selftest', path]);
  try {
    return parseSelfTestState(answer.stdout);
  } catch {
    return null;
  }
}
