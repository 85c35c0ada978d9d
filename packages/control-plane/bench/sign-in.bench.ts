// What a sign-in costs (scrypt N = 2^17, r = 8, p = 1), and whether a wrong password and an unknown
// user name take alike: the in-process HTTP API on SQLite, one request at a time. Prints a markdown table
// (scripts/bench.mjs writes it into docs/benchmarks.md).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretBox } from '../src/credentials/secret-box.js';
import { powerDriverFactory } from '../src/drivers/power/index.js';
import { buildApp } from '../src/http/app.js';
import { createLogger } from '../src/http/logger.js';
import { JobQueue } from '../src/jobs/job-queue.js';
import { RescueService } from '../src/rescue/rescue-service.js';
import { Store } from '../src/store/store.js';

const rounds = 7;
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-sign-in-bench-'));
const stop = new AbortController();
const store = await Store.open({
  databaseUrl: `sqlite:${join(dir, 'lifeboat.db')}`,
  secretBox: SecretBox.fromKeyFile(join(dir, 'secret.key')),
  deadlines: { requestMs: 60_000, rescueMs: 600_000, exitMs: 600_000 },
});
const queue = new JobQueue(store.database.db, store.dialect, store.now);
const rescue = new RescueService({ store, queue, lease: { defaultLeaseMs: 3_600_000, maxLeaseMs: 86_400_000 }, images: { directoryOf: async () => undefined } });
// A limit no run reaches: this measures the hash, not the rate limit.
const app = await buildApp({ store, queue, rescue, powerDrivers: powerDriverFactory(), logger: createLogger('silent'), signal: stop.signal, accounts: { signInLimit: { failures: 1000, windowMs: 60_000 } } });

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const seconds = (values: number[]) => `${values.map((v) => (v / 1000).toFixed(2)).join(', ')} s (median ${(median(values) / 1000).toFixed(2)})`;

async function timed(name: string, password: string, expected: number): Promise<number> {
  const started = performance.now();
  const answer = await app.inject({ method: 'POST', url: '/v1/auth/sign-in', payload: { name, password } });
  const ms = performance.now() - started;
  if (answer.statusCode !== expected) throw new Error(`sign-in ${name}: ${answer.statusCode} ${answer.body}`);
  return ms;
}

try {
  const addStarted = performance.now();
  await store.users.add({ name: 'alice', role: 'operator', tenantId: null, email: null, password: 'a long bench password' });
  const addMs = performance.now() - addStarted;
  const right: number[] = [];
  const wrong: number[] = [];
  const unknown: number[] = [];
  const rssBefore = process.memoryUsage().rss;
  for (let i = 0; i < rounds; i++) {
    right.push(await timed('alice', 'a long bench password', 200));
    wrong.push(await timed('alice', 'not the password', 401));
    unknown.push(await timed('nobody', 'not the password', 401));
  }
  const rssAfter = process.memoryUsage().rss;
  console.log('| measure | value | note |');
  console.log('| --- | --- | --- |');
  console.log(`| hash a new password (users add) | ${(addMs / 1000).toFixed(2)} s | scrypt N = 2^17, r = 8, p = 1 (128 MiB) |`);
  console.log(`| sign-in, right password → 200 | ${seconds(right)} | verification + session row |`);
  console.log(`| sign-in, wrong password → 401 | ${seconds(wrong)} | |`);
  console.log(`| sign-in, unknown user name → 401 | ${seconds(unknown)} | decoy hash: median ratio to a wrong password ${(median(unknown) / median(wrong)).toFixed(2)} (should be ≈ 1) |`);
  console.log(`| resident memory after ${rounds * 3} sign-ins | ${(rssAfter / 2 ** 20).toFixed(0)} MiB (before: ${(rssBefore / 2 ** 20).toFixed(0)} MiB) | scrypt's 128 MiB per hash is freed after it |`);
} finally {
  stop.abort();
  await app.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
