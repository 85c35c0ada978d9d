/**
 * Schema-driven fuzzing (issue 14): for every operation of the OpenAPI document the control plane
 * serves, requests generated from its JSON schemas, valid and mutated (wrong types, NUL bytes, huge
 * numbers, unicode, `../`, overlong strings, bad percent-encoding in paths, broken JSON, wrong content
 * types), from callers of every kind, against fixtures in and out of rescue. Every answer: no 500,
 * errors as `{code, message}` with a known code, no secret echoed; afterwards the process is healthy and
 * no prototype was polluted. On SQLite and PostgreSQL.
 *
 * The seed is fixed (`LIFEBOAT_FUZZ_SEED`, default below) and printed with any counterexample, so a
 * failure replays exactly; `LIFEBOAT_FUZZ_RUNS` sets the requests per operation (default 20; try 500).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { testDialects } from '../../src/store/testing.js';
import { startWorld, type CallerName, type Operation, type World } from './api-world.js';
import { assertNoSecret, assertWellFormed } from './answer-checks.js';
import { badPercentEncodings, fuzzedValue, validValue, type Schema } from './schema-arbitrary.js';

const seed = Number(process.env.LIFEBOAT_FUZZ_SEED ?? 1_400_014);
const numRuns = Number(process.env.LIFEBOAT_FUZZ_RUNS ?? 20);

/** A generated request: the raw path (query included), the caller, and the body's text and type. */
interface FuzzRequest {
  readonly path: string;
  readonly caller: CallerName;
  readonly body?: string;
  readonly contentType?: string;
  /** Credentials of the wrong form, instead of the caller's. */
  readonly headers?: Readonly<Record<string, string>>;
}

const fuzzCallers: readonly CallerName[] = ['operator', 'technician', 'customer', 'cookie', 'agent', 'none'];
const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 });
/** Malformed credentials (a header cannot carry NUL or a newline: fetch refuses them, as HTTP does). */
const badCredentials: fc.Arbitrary<Record<string, string>> = fc.oneof(
  printable.map((t) => ({ authorization: `Bearer ${t}` })),
  printable.map((t) => ({ authorization: `Basic ${t}` })),
  fc.constantFrom({ authorization: 'Bearer' }, { authorization: 'bearer  lb_x y' }, { authorization: 'Bearer lba_' }, { authorization: `Bearer ${'a'.repeat(8000)}` }),
  printable.map((t) => ({ cookie: `lifeboat_session=${t}` })),
  printable.map((t) => ({ cookie: `lifeboat_session=${t}; lifeboat_session=x`, 'x-csrf-token': t })),
);
const brokenBodies = ['{', '{"a":', '', 'null', '[]', '"\\u0000"', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '\u0000', '{"a":1,"a":2}', '1'.repeat(400), '\ufeff{}'];
const contentTypes = ['application/json', 'application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', 'application/octet-stream'];

/** A query or path value as text. */
function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
}

/** The operations whose success consumes a fixture (a server removed, a rescue ended) go last. */
function consuming(operation: Operation): boolean {
  return operation.method === 'DELETE' || operation.path.endsWith('/rescue/exit');
}

/** Requests of one operation. */
function requestsOf(operation: Operation, w: World): fc.Arbitrary<FuzzRequest> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const parameters = (operation.spec.parameters ?? []) as Array<{ in: string; name: string; required?: boolean; schema: Schema }>;
  const pools: Record<string, string[]> = {
    // Not the own user's name: the cookie caller signs in as that user.
    name: [w.own.rescued, w.own.idle, w.foreign.rescued, w.own.keyName, w.foreign.userName],
    id: [w.own.workId, w.own.testId, w.own.incidentId, w.foreign.workId, w.foreign.incidentId],
    device: ['sda1', 'sda', 'vg0/root'],
    script: [`${w.own.idleMac.replace(/:/g, '-')}.ipxe`, `${w.foreign.idleMac}.ipxe`],
  };
  const segment = (p: { name: string; schema: Schema }) =>
    fc.oneof(
      { arbitrary: fc.oneof(fc.constantFrom(...(pools[p.name] ?? ['x'])), fuzzedValue(p.schema)).map((v) => encodeURIComponent(text(v))), weight: 4 },
      { arbitrary: fc.constantFrom(...badPercentEncodings), weight: 1 },
    );
  const pathParams = parameters.filter((p) => p.in === 'path');
  const queryParams = parameters.filter((p) => p.in === 'query');
  const path = fc.tuple(...pathParams.map(segment)).map((values) => {
    let i = 0;
    return operation.path.replace(/\{\w+\}/g, () => values[i++] ?? '');
  });
  const query = fc
    .tuple(
      ...queryParams.map((p) =>
        // Long polls: a generated wait of a minute would only slow the run down.
        fc.option(p.name === 'waitSeconds' ? fc.constantFrom('0', '1', '-1', 'x', '61', '1e3', '%ff') : fuzzedValue(p.schema).map(text), { nil: undefined }).map((v) => (v === undefined ? '' : `${encodeURIComponent(p.name)}=${encodeURIComponent(v)}`)),
      ),
      fc.option(fc.constantFrom('unknown=1', 'x=%ff', 'server=%00', 'a=1&a=2', '=', '&&'), { nil: undefined }),
    )
    .map(([...parts]) => parts.filter((part): part is string => typeof part === 'string' && part !== '').join('&'));
  const schema = operation.spec.requestBody?.content?.['application/json']?.schema as Schema | undefined;
  const withBody = operation.method !== 'GET' && operation.method !== 'HEAD';
  const body: fc.Arbitrary<{ body?: string; contentType?: string }> = !withBody
    ? fc.constant({})
    : fc.oneof(
        // Whole valid bodies (past validation, into the handlers), and mutated ones.
        { arbitrary: (schema ? validValue(schema) : fc.constant({})).map((v) => ({ body: JSON.stringify(v) ?? 'null', contentType: 'application/json' })), weight: 2 },
        { arbitrary: (schema ? fuzzedValue(schema) : fc.jsonValue({ maxDepth: 2 })).map((v) => ({ body: JSON.stringify(v) ?? 'null', contentType: 'application/json' })), weight: 4 },
        { arbitrary: fc.record({ body: fc.constantFrom(...brokenBodies), contentType: fc.constantFrom(...contentTypes) }), weight: 1 },
        { arbitrary: fc.constant({}), weight: 1 },
      );
  const who = fc.oneof(
    { arbitrary: fc.constantFrom(...fuzzCallers).map((caller) => ({ caller })), weight: 6 },
    { arbitrary: badCredentials.map((headers) => ({ caller: 'none' as const, headers })), weight: 1 },
  );
  return fc.record({ path, query, who, body }).map(({ path: p, query: q, who: w, body: b }) => ({ path: q === '' ? p : `${p}?${q}`, ...w, ...b }));
}

describe('schema-driven fuzzing', { concurrency: true }, () => {
  for (const dialect of testDialects()) {
    describe(`on ${dialect}`, { timeout: 600_000 }, () => {
      let w: World;
      before(async () => {
        w = await startWorld(dialect);
      });
      after(async () => {
        await w?.close();
      });

      it(`answers ${numRuns} generated requests per operation without a 500, a foreign error shape or an echoed secret (seed ${seed})`, async () => {
        const operations = [...w.operations].sort((a, b) => Number(consuming(a)) - Number(consuming(b)));
        let sent = 0;
        for (const operation of operations) {
          await fc.assert(
            fc.asyncProperty(requestsOf(operation, w), async (request) => {
              const answer = await w.raw(operation.method, request.path, request.caller, request.body, request.contentType, request.headers);
              sent++;
              const what = `${operation.key}: ${operation.method} ${request.path.slice(0, 200)} as ${request.caller} with ${String(request.body).slice(0, 200)}`;
              assertWellFormed(operation, answer, what);
              assertNoSecret(answer, w.secrets(), what);
            }),
            { seed, numRuns, endOnFailure: true, includeErrorInReport: true },
          );
        }
        console.log(`# ${dialect}: ${sent} requests over ${operations.length} operations, seed ${seed}`);
        const health = await w.raw('GET', '/healthz', 'none');
        assert.equal(health.status, 200);
        assert.equal(({} as Record<string, unknown>).polluted, undefined, 'a body polluted Object.prototype');
      });
    });
  }
});
