/**
 * Checks every answer of the matrix and the fuzzer shares: no 500, errors in the product's
 * `{code, message}` shape with a known code, no secret echoed; and what "answers exactly like a missing
 * resource" means. Used by tests only.
 */
import assert from 'node:assert/strict';
import { isErrorCode } from '@lifeboat/core';
import type { Operation, Req, WorldAnswer } from './api-world.js';

/**
 * 5xx codes that are the product's own answer about something outside it (a BMC, an agent or a console
 * that does not answer), documented on the operation: not defects. Anything else at 500 or above is one.
 */
const outsideFailures = new Set(['AGENT_UNAVAILABLE', 'BMC_UNREACHABLE', 'BMC_AUTH_FAILED', 'BMC_ERROR', 'BMC_UNSUPPORTED', 'CONSOLE_UNAVAILABLE', 'DATABASE_UNAVAILABLE']);

/** Asserts the answer is no server error and an error is `{code, message}` with a known code. */
export function assertWellFormed(operation: Operation, answer: WorldAnswer, what: string): void {
  if (answer.status >= 500) {
    const code = answer.body?.code;
    assert.ok(
      typeof code === 'string' && outsideFailures.has(code) && String(answer.status) in (operation.spec.responses ?? {}),
      `${what}: server error ${answer.status} ${answer.text.slice(0, 300)}`,
    );
  }
  if (answer.status >= 400 && operation.method !== 'HEAD') {
    assert.match(answer.type, /^application\/json/, `${what}: error of type ${answer.type}: ${answer.text.slice(0, 200)}`);
    assert.deepEqual(Object.keys(answer.body ?? {}).sort(), ['code', 'message'], `${what}: error shape ${answer.text.slice(0, 200)}`);
    assert.ok(isErrorCode(answer.body.code), `${what}: unknown error code ${answer.body.code}`);
    assert.equal(typeof answer.body.message, 'string', `${what}: message`);
  }
}

/** Asserts no secret in `secrets` is in the answer. */
export function assertNoSecret(answer: WorldAnswer, secrets: readonly string[], what: string): void {
  for (const secret of secrets) assert.ok(!answer.text.includes(secret), `${what}: a secret came back in the answer`);
}

/** The message with the request's own values (names, ids) taken out: what stays the same between two resources. */
function normalised(message: string, request: Req): string {
  const strings = (value: unknown): string[] =>
    typeof value === 'string' ? [value] : typeof value === 'object' && value !== null ? Object.values(value).flatMap(strings) : [];
  const values = [...Object.values(request.params ?? {}), ...Object.values(request.query ?? {}), ...strings(request.body)].filter((v) => v.length > 0);
  let out = message;
  for (const value of values.sort((a, b) => b.length - a.length)) out = out.split(value).join('<value>');
  return out;
}

/** Asserts a foreign resource's answer is indistinguishable from a missing one's: status, shape, code, message. */
export function assertAlike(foreign: WorldAnswer, foreignReq: Req, missing: WorldAnswer, missingReq: Req, what: string): void {
  const view = (answer: WorldAnswer, request: Req) => ({
    status: answer.status,
    keys: Object.keys(answer.body ?? {}).sort(),
    code: answer.body?.code,
    message: typeof answer.body?.message === 'string' ? normalised(answer.body.message, request) : undefined,
  });
  assert.deepEqual(view(foreign, foreignReq), view(missing, missingReq), `${what}: a foreign resource answers unlike a missing one (a leak)`);
}
