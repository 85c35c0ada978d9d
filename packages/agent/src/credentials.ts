/**
 * Writing the session's credentials into the rescue system: root's password as the crypt hash the
 * control plane sent (the agent never sees a clear password), or root's authorized keys.
 */

/** Whether a string is a SHA-512 crypt hash (`$6$salt$hash`, optionally with `rounds=N$`). */
export function isSha512CryptHash(hash: string): boolean {
  return /^\$6\$(rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{86}$/.test(hash);
}

/**
 * `/etc/shadow` with `user`'s password field replaced by `passwordField` (a crypt hash, or `*` for
 * "no password": key login still works, password login cannot). The other fields and lines are
 * kept; the last-change field is set to `daysSinceEpoch` so no "password expired" prompt appears.
 * A missing user gets a line appended.
 */
export function rewriteShadow(shadow: string, user: string, passwordField: string, daysSinceEpoch: number): string {
  if (passwordField.includes(':') || passwordField.includes('\n')) throw new Error('invalid password field');
  const lines = shadow.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let found = false;
  const out = lines.map((line) => {
    const fields = line.split(':');
    if (fields[0] !== user) return line;
    found = true;
    while (fields.length < 9) fields.push('');
    fields[1] = passwordField;
    fields[2] = String(daysSinceEpoch);
    return fields.join(':');
  });
  if (!found) out.push(`${user}:${passwordField}:${daysSinceEpoch}:0:99999:7:::`);
  return `${out.join('\n')}\n`;
}

/** The content of `authorized_keys` for a list of public keys: one per line, blank ones dropped. */
export function authorizedKeysFile(keys: readonly string[]): string {
  const lines = keys.map((k) => k.trim()).filter((k) => k.length > 0);
  for (const line of lines) {
    if (line.includes('\n')) throw new Error('an authorized key spans several lines');
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}
