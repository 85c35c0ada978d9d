/**
 * The authorization matrix (issue 14): every operation of the OpenAPI document the control plane
 * serves × every kind of caller (no credential, a revoked token, a customer's, a technician's and an
 * operator's token, a customer's browser session with and without its CSRF token, an agent token) ×
 * the caller's own tenant and a foreign one. Each expected answer is derived from `routePolicy`; every
 * answer is checked: no 500, errors as `{code, message}`, no secret echoed, a foreign resource answers
 * exactly like a missing one, a customer's answers never name the foreign tenant's things. On SQLite
 * and PostgreSQL. A new operation without an entry in the policy table fails here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '@lifeboat/test-support';
import { testDialects } from '../../src/store/testing.js';
import { callerNames, callers, registeredRoutes, startWorld, type CallerName, type Operation, type Req, type World, type WorldAnswer } from './api-world.js';
import { assertAlike, assertNoSecret, assertWellFormed } from './answer-checks.js';
import { routePolicy, type RoutePolicy } from './route-policy.js';

const unsafe = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** What a caller must get from an operation, from the policy. */
type Expected = { readonly refused: readonly [number, string] } | { readonly decision: 'allow' | 'forbid' | 'hidden' } | { readonly public: true };

function expectedOf(policy: RoutePolicy, operation: Operation, callerName: CallerName): Expected {
  const caller = callers[callerName];
  if (policy.auth === 'public') return { public: true };
  if (policy.auth === 'agent') return callerName === 'agent' ? { decision: 'allow' } : { refused: [401, 'UNAUTHORIZED'] };
  if (caller.role === undefined) return { refused: [401, 'UNAUTHORIZED'] };
  if (callerName === 'cookie-no-csrf' && unsafe.has(operation.method)) return { refused: [403, 'CSRF_FAILED'] };
  if (policy.account === 'session' && !caller.cookie) return { refused: [401, 'UNAUTHORIZED'] };
  if (policy.account === 'user' && !caller.user) return { refused: [404, 'USER_NOT_FOUND'] };
  return { decision: policy.roles?.[caller.role] ?? 'forbid' };
}

/** Callers whose view is one tenant's: what they get on the foreign tenant must look like nothing. */
function confined(callerName: CallerName, policy: RoutePolicy): boolean {
  return callerName === 'customer' || callerName === 'cookie' || (callerName === 'agent' && policy.auth === 'agent');
}

// The dialects side by side: most of the time is spent waiting (scrypt on the thread pool, the database).
describe('authorization matrix', { concurrency: true }, () => {
  for (const dialect of testDialects()) {
    describe(`on ${dialect}`, { timeout: 300_000 }, () => {
      let w: World;
      let cells = 0;
      let leaksChecked = 0;

      before(async () => {
        w = await startWorld(dialect);
      });
      after(async () => {
        await w?.close();
      });

      it('has a policy entry for every operation of the OpenAPI document, and none for an operation that is gone', () => {
        const keys = w.operations.map((o) => o.key);
        assert.ok(keys.length >= 60, `${keys.length} operations`);
        assert.deepEqual(keys.filter((k) => routePolicy[k] === undefined), [], 'operations without a matrix entry (add them to route-policy.ts)');
        assert.deepEqual(Object.keys(routePolicy).filter((k) => !keys.includes(k)), [], 'matrix entries of operations that no longer exist');
      });

      it('finds every route the application answers in the OpenAPI document (none hidden from the matrix)', () => {
      const documented = new Set(w.operations.map((o) => o.key));
      const unlisted = new Set(['GET /healthz', 'GET /openapi.json']);
      assert.deepEqual(registeredRoutes(w.app.app).filter((r) => !documented.has(r) && !unlisted.has(r)), []);
    });

    it("streams a customer only its own tenant's events (token and browser session)", async () => {
      for (const caller of ['customer', 'cookie'] as const) {
        const stream = await w.stream('/v1/events', caller);
        assert.equal(stream.status, 200);
        try {
          await waitFor('the stream to open', () => stream.received().includes(': connected') || undefined, 10_000);
          // The foreign tenant's server and hardware test change first, then the own server: once the own
          // change is in, the foreign ones were sent before it or never.
          const admin = (method: string, path: string, body?: unknown) => w.app.call(method, path, w.app.admin, body);
          assert.equal((await admin('POST', `/v1/servers/${w.foreign.rescued}/rescue/extend`, { expiresIn: '3h' })).status, 200);
          assert.equal((await admin('POST', `/v1/servers/${w.foreign.rescued}/tests`, { kind: 'cpu' })).status, 202);
          assert.equal((await admin('POST', `/v1/servers/${w.own.rescued}/rescue/extend`, { expiresIn: '3h' })).status, 200);
          await waitFor(`${caller}: the own server's event`, () => stream.received().includes(`"name":"${w.own.rescued}"`) || undefined, 10_000);
          for (const marker of w.foreignMarkers) assert.ok(!stream.received().includes(marker), `${caller}: the stream carried the foreign tenant's ${marker}`);
        } finally {
          stream.close();
        }
      }
    });

    it('answers every operation × caller × own and foreign tenant as the policy says', async () => {
        const failures: string[] = [];
        for (const operation of w.operations) {
          const policy = routePolicy[operation.key];
          if (!policy) continue;
          for (const callerName of policy.callers ?? callerNames) {
            const what = `${operation.key} as ${callerName}`;
            try {
              await checkCell(operation, policy, callerName, what);
            } catch (error) {
              failures.push((error as Error).message);
            }
          }
        }
        assert.deepEqual(failures, [], `${failures.length} of ${cells} cells failed`);
        console.log(`# ${dialect}: ${w.operations.length} operations, ${cells} requests, ${leaksChecked} foreign/missing comparisons`);
        assert.ok(cells > 1000 && leaksChecked > 50, `${cells} cells, ${leaksChecked} foreign/missing comparisons`);
      });

      async function send(operation: Operation, callerName: CallerName, request: Req, what: string): Promise<WorldAnswer> {
        const answer = await w.call(operation, callerName, request);
        cells++;
        assertWellFormed(operation, answer, what);
        assertNoSecret(answer, w.secrets(), what);
        return answer;
      }

      async function checkCell(operation: Operation, policy: RoutePolicy, callerName: CallerName, what: string): Promise<void> {
        const expected = expectedOf(policy, operation, callerName);
        const ownReq = await policy.own(w, callerName);
        const own = await send(operation, callerName, ownReq, `${what} (own)`);
        if (confined(callerName, policy) && 'decision' in expected) {
          for (const marker of w.foreignMarkers) assert.ok(!own.text.includes(marker), `${what} (own): the answer names the foreign tenant's ${marker}`);
        }
        const missingAnswer = async () => (policy.missing ? send(operation, callerName, policy.missing(w), `${what} (missing)`) : undefined);
        if ('refused' in expected) {
          assert.deepEqual([own.status, own.body?.code], expected.refused, `${what} (own): ${own.text.slice(0, 200)}`);
        } else if ('decision' in expected) {
          if (expected.decision === 'forbid') assert.deepEqual([own.status, own.body?.code], [403, 'FORBIDDEN'], `${what} (own): ${own.text.slice(0, 200)}`);
          if (expected.decision === 'allow') {
            assert.ok(own.status !== 401 && own.status !== 403, `${what} (own): refused ${own.status} ${own.text.slice(0, 200)}`);
            const missing = await missingAnswer();
            if (missing && missing.status >= 400 && !policy.ownIsMissing) {
              assert.ok(own.body?.code !== missing.body?.code || own.status < 400, `${what} (own): answered as missing, ${own.text.slice(0, 200)}`);
            }
          }
          if (expected.decision === 'hidden') {
            const missing = await missingAnswer();
            assert.ok(missing && policy.missing, `${what}: a hidden decision needs a missing request`);
            assertAlike(own, ownReq, missing, policy.missing(w), `${what} (own, hidden)`);
            leaksChecked++;
          }
        }
        for (const { foreign: foreignReq, missing: missingReq } of policy.foreign ? await policy.foreign(w) : []) {
          const foreign = await send(operation, callerName, foreignReq, `${what} (foreign)`);
          const missing = await send(operation, callerName, missingReq, `${what} (missing)`);
          if ('refused' in expected) {
            assert.deepEqual([foreign.status, foreign.body?.code], expected.refused, `${what} (foreign): ${foreign.text.slice(0, 200)}`);
          } else if (confined(callerName, policy)) {
            assertAlike(foreign, foreignReq, missing, missingReq, `${what} (foreign)`);
            leaksChecked++;
          }
        }
      }
    });
  }
});
