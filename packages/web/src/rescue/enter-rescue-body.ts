/** The body of `POST /v1/servers/{name}/rescue` from the form (pure, tested beside). */
import type { EnterRescue } from '@lifeboat/core/api';

/** The request body from the form's fields (empty fields left out); `keyNames` are keys of the key store. */
export function enterRescueBody(fields: { profile: string; keys: string; keyNames?: readonly string[]; email: string; lease: string }): EnterRescue {
  const keys = fields.keys
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  return {
    ...(fields.profile ? { profile: fields.profile } : {}),
    ...(keys.length > 0 ? { sshKeys: keys } : {}),
    ...(fields.keyNames && fields.keyNames.length > 0 ? { keys: [...fields.keyNames] } : {}),
    ...(fields.email.trim() ? { email: fields.email.trim() } : {}),
    ...(fields.lease ? { expiresIn: fields.lease } : {}),
  };
}
