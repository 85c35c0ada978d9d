/**
 * High-entropy bearer tokens (API, boot, agent). Only their SHA-256 is stored: a token has 256 random
 * bits, so a fast hash is enough (no password-style stretching needed).
 */
import { createHash, randomBytes } from 'node:crypto';

/** Token kinds, visible in the prefix so a leaked token is recognisable. */
export type TokenKind = 'api' | 'boot' | 'agent';

const prefixes: Record<TokenKind, string> = { api: 'lb_', boot: 'lbb_', agent: 'lba_' };

/** A fresh random token of a kind. */
export function newToken(kind: TokenKind): string {
  return prefixes[kind] + randomBytes(32).toString('base64url');
}

/** The stored form of a token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
