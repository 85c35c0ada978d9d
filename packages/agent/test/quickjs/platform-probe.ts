/**
 * Runs on QuickJS (bundled by platform-quickjs.test.ts): exercises every call of the QuickJS platform
 * against what the test set up, and prints one JSON object with what it saw.
 */
import { Stop } from '../../src/platform.js';
import { quickjsPlatform as p } from '../../src/platform-quickjs.js';

const dir = p.env('PROBE_DIR') as string;
const url = p.env('PROBE_URL') as string;
const refusedUrl = p.env('PROBE_REFUSED_URL') as string;
const out: Record<string, unknown> = {};

async function attempt<T>(what: () => Promise<T>): Promise<T | { error: string }> {
  try {
    return await what();
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

async function probe(): Promise<void> {
  out.runtime = p.runtime;
  out.pid = p.pid();
  out.echo = await p.run('sh', ['-c', 'cat; echo to-stderr >&2; exit 3'], { stdin: 'héllo\nwörld 🛟' });
  out.big = (await p.run('sh', ['-c', 'head -c 300000 /dev/zero | tr "\\0" x'])).stdout.length;
  out.missing = await attempt(() => p.run('/nonexistent/program', []));
  const stop = new Stop();
  const sleeper = p.run('sleep', ['30'], { stop });
  await p.sleep(100);
  stop.stop(new Error('enough'));
  out.killed = (await sleeper).status;
  // A process group (a hardware test): output followed as it comes; a stop ends the children too.
  const groupStop = new Stop();
  const streamed: string[] = [];
  const group = p.run('sh', ['-c', 'echo started; sleep 3131 & sleep 3132; echo never'], { stop: groupStop, processGroup: true, onOutput: (text) => streamed.push(text) });
  for (let i = 0; i < 250 && !streamed.join('').includes('started'); i++) await p.sleep(20);
  groupStop.stop();
  out.group = { status: (await group).status, streamed: streamed.join('') };
  await p.sleep(300);
  out.groupLeft = (await p.run('sh', ['-c', 'ps -eo args | grep -c "^sleep 313[12]$"'])).stdout.trim();

  // A program that always has output waiting (a memtester whose output is parsed as it comes) must
  // not starve the others: short programs and HTTP calls beside it get their whole output.
  const chattyStop = new Stop();
  const chatty = p.run('yes', ['memtester-like output'], {
    stop: chattyStop,
    processGroup: true,
    onOutput: () => {
      for (const until = Date.now() + 5; Date.now() < until; ) {
        // busy, as a parser of the output so far is
      }
    },
  });
  const beside: string[] = [];
  for (let i = 0; i < 5; i++) beside.push((await p.run('echo', [`beside ${i}`])).stdout);
  const besideHttp = await attempt(() => p.http({ method: 'GET', url: `${url}/echo?beside=1`, headers: {}, timeoutSeconds: 10 }));
  chattyStop.stop();
  out.beside = { programs: beside, http: besideHttp, chattyStatus: (await chatty).status };
  out.get = await p.http({ method: 'GET', url: `${url}/echo?x=1`, headers: { accept: 'application/json', authorization: 'Bearer s3cret' }, timeoutSeconds: 10 });
  const body = JSON.stringify({ quote: 'a"b', backslash: 'c\\d', newline: 'e\nf', unicode: 'ü🛟', at: '@/etc/passwd' });
  out.post = await p.http({ method: 'POST', url: `${url}/echo`, headers: { 'content-type': 'application/json' }, body, timeoutSeconds: 10 });
  // A body far over curl's 100 KiB limit on a config line, full of what curl's quoting escapes (a
  // memory test's output: memtester's backspaced counters).
  const large = JSON.stringify({ output: 'testing  12\b\b\b\b\b\b\b\b\b\b\b\\"\n'.repeat(20_000) });
  out.postLarge = await attempt(async () => {
    const answer = await p.http({ method: 'POST', url: `${url}/echo`, headers: { 'content-type': 'application/json' }, body: large, timeoutSeconds: 30 });
    return { status: answer.status, same: answer.body === JSON.stringify({ method: 'POST', body: large }), bytes: large.length };
  });
  out.status404 = await p.http({ method: 'GET', url: `${url}/missing`, headers: {}, timeoutSeconds: 10 });
  out.empty204 = await p.http({ method: 'POST', url: `${url}/empty`, headers: {}, body: '{}', timeoutSeconds: 10 });
  out.refused = await attempt(() => p.http({ method: 'GET', url: refusedUrl, headers: {}, timeoutSeconds: 10 }));
  out.timedOut = await attempt(() => p.http({ method: 'GET', url: `${url}/slow`, headers: {}, timeoutSeconds: 1 }));
  const httpStop = new Stop();
  const pending = attempt(() => p.http({ method: 'GET', url: `${url}/slow`, headers: {}, timeoutSeconds: 30, stop: httpStop }));
  await p.sleep(200);
  httpStop.stop(new Error('shutting down'));
  out.stopped = await pending;

  await p.mkdir(`${dir}/a/b/c`, 0o700);
  await p.writeText(`${dir}/a/b/c/secret`, 'top\nsecret ü', 0o600);
  await p.writeText(`${dir}/a/b/c/public`, 'hello', 0o644);
  await p.writeText(`${dir}/a/b/c/public`, 'hello again', 0o640);
  out.read = await p.readText(`${dir}/a/b/c/secret`);
  out.proc = (await p.readText('/proc/self/status')).includes('Pid:');
  out.readMissing = await attempt(() => p.readText(`${dir}/nope`));
  out.list = (await p.readdir(`${dir}/a/b/c`)).sort();
  out.exists = [p.exists(`${dir}/a/b/c/secret`), p.exists(`${dir}/nope`)];
  await p.rename(`${dir}/a/b/c/public`, `${dir}/a/b/c/renamed`);
  out.owner = await p.owner(`${dir}/a/b/c/renamed`);
  out.ownerMissing = await p.owner(`${dir}/nope`);
  await p.chown(`${dir}/a/b/c/renamed`, 0, 42);
  out.ownerAfter = await p.owner(`${dir}/a/b/c/renamed`);
  p.appendTextSync(`${dir}/log`, 'one\n');
  p.appendTextSync(`${dir}/log`, 'two\n');
  out.kill = [p.kill(out.pid as number, 0), p.kill(999_999_999, 0)];
  const sleepStop = new Stop();
  const started = Date.now();
  const long = p.sleep(60_000, sleepStop);
  sleepStop.stop();
  await long;
  out.sleepStoppedEarly = Date.now() - started < 30_000;
}

void probe().then(
  () => {
    p.writeStdout(`${JSON.stringify(out)}\n`);
    p.exit(0);
  },
  (error: unknown) => {
    p.writeStdout(`${JSON.stringify({ crashed: String(error), ...out })}\n`);
    p.exit(1);
  },
);
