/**
 * The boot credential of a rescue (issue 14, finding 1). It is minted once per boot attempt, on the
 * first request of the rescue's iPXE script, and bound to the address that asked: the same address
 * asking again (iPXE retrying, the server rebooting before its agent started) gets the same
 * credential back, unsealed from the row; another address gets none and cannot void it. Redeeming it
 * needs the token *and* that address, once; the bound address asking again after a redeem starts the
 * next attempt (a new credential, the old agent token is replaced at its redeem).
 *
 * Refused requests become alerts on the session (`rescue_alerts`), which the rescue view shows to the
 * customer and the operator.
 */
import type { Kysely } from 'kysely';
import type { SecretBox } from '../credentials/secret-box.js';
import { hashToken, newToken } from '../credentials/tokens.js';
import type { Database } from './schema.js';
import { iso, newId, type Clock } from './rows.js';

/** What the script request of an address gets. */
export type BootCredential =
  | { readonly kind: 'issued'; readonly token: string; readonly attempt: number; readonly fresh: boolean }
  | { readonly kind: 'bound elsewhere'; readonly boundTo: string };

/** What a redeem did. */
export type RedeemOutcome =
  | { readonly kind: 'redeemed'; readonly sessionId: string }
  /** The right credential from an address that is not the one it is bound to. */
  | { readonly kind: 'other address'; readonly sessionId: string; readonly boundTo: string | null }
  /** A credential that is not the current one of an open session of the server (used, old, made up). */
  | { readonly kind: 'invalid'; readonly sessionId: string }
  /** The server has no open session (or does not exist): nothing to alert about. */
  | { readonly kind: 'no session' };

/** Kinds of alerts. */
export type RescueAlertKind = 'boot_script_other_address' | 'redeem_other_address' | 'redeem_invalid';

/** A refused boot request or redeem, as the rescue view shows it. */
export interface RescueAlert {
  readonly kind: RescueAlertKind;
  readonly address: string;
  readonly message: string;
  readonly at: Date;
}

/** Alerts kept per session: past this, refusals are still refused and audited, not stored here. */
export const alertsPerSession = 50;

/** Boot credentials and alerts. */
export class BootCredentialStore {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;
  readonly #box: SecretBox;
  readonly #changed: (serverId: string) => void;

  constructor(db: Kysely<Database>, now: Clock, box: SecretBox, changed: (serverId: string) => void) {
    this.#db = db;
    this.#now = now;
    this.#box = box;
    this.#changed = changed;
  }

  /**
   * The credential of session `sessionId`'s boot attempt for a script request from `address`: the
   * current one when `address` is the bound one, a new attempt when nothing is bound yet or the bound
   * address asks after its credential was redeemed, else `bound elsewhere`.
   */
  async issue(sessionId: string, address: string): Promise<BootCredential> {
    // Two tries: a concurrent request may bind between the read and the conditional update.
    for (let tries = 0; tries < 2; tries++) {
      const row = await this.#db
        .selectFrom('rescue_sessions')
        .select(['boot_address', 'boot_token_sealed', 'boot_attempt'])
        .where('id', '=', sessionId)
        .executeTakeFirst();
      if (!row) throw new Error(`no session ${sessionId}`);
      if (row.boot_address !== null && row.boot_address !== address) return { kind: 'bound elsewhere', boundTo: row.boot_address };
      if (row.boot_address === address && row.boot_token_sealed !== null) {
        return { kind: 'issued', token: this.#box.open(row.boot_token_sealed), attempt: row.boot_attempt, fresh: false };
      }
      const token = newToken('boot');
      const attempt = row.boot_attempt + 1;
      const updated = await this.#db
        .updateTable('rescue_sessions')
        .set({ boot_address: address, boot_token_hash: hashToken(token), boot_token_sealed: this.#box.seal(token), boot_attempt: attempt })
        .where('id', '=', sessionId)
        .where('boot_attempt', '=', row.boot_attempt)
        .executeTakeFirst();
      if (updated.numUpdatedRows > 0n) return { kind: 'issued', token, attempt, fresh: true };
    }
    const row = await this.#db.selectFrom('rescue_sessions').select(['boot_address', 'boot_token_sealed', 'boot_attempt']).where('id', '=', sessionId).executeTakeFirstOrThrow();
    if (row.boot_address === address && row.boot_token_sealed !== null) return { kind: 'issued', token: this.#box.open(row.boot_token_sealed), attempt: row.boot_attempt, fresh: false };
    return { kind: 'bound elsewhere', boundTo: row.boot_address ?? 'another request' };
  }

  /** The address session `sessionId`'s boot is bound to, if any. */
  async boundAddress(sessionId: string): Promise<string | null> {
    const row = await this.#db.selectFrom('rescue_sessions').select('boot_address').where('id', '=', sessionId).executeTakeFirst();
    return row?.boot_address ?? null;
  }

  /**
   * Trades the boot credential for an agent token, only from the address it is bound to and while the
   * session waits for its rescue system (or for the enter job to record the reboot). The credential
   * stays valid there until the rescue is ready (the session's move on clears it) or the server asks
   * for a script again (a new boot attempt, a new credential): a redeem whose answer was lost (the
   * control plane killed after the commit) is asked again by the agent; each redeem replaces the agent
   * token, so only the last answer's token works. Its sealed copy goes at once: no script repeats it.
   */
  async redeem(serverId: string, bootTokenHash: string, agentTokenHash: string, address: string): Promise<RedeemOutcome> {
    const now = iso(this.#now());
    const result = await this.#db
      .updateTable('rescue_sessions')
      .set({ boot_token_sealed: null, agent_token_hash: agentTokenHash, agent_token_revoked_at: null, updated_at: now })
      .where('server_id', '=', serverId)
      .where('boot_token_hash', '=', bootTokenHash)
      .where('boot_address', '=', address)
      // `rescue_requested` too: the server may netboot before the enter job recorded its reboot (a
      // control plane restarted in between); the caller then moves the session on.
      .where('state', 'in', ['rescue_requested', 'preparing_rescue'])
      .where('ended_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    if (result) return { kind: 'redeemed', sessionId: result.id };
    const open = await this.#db
      .selectFrom('rescue_sessions')
      .select(['id', 'boot_token_hash', 'boot_address'])
      .where('server_id', '=', serverId)
      .where('ended_at', 'is', null)
      .executeTakeFirst();
    if (!open) return { kind: 'no session' };
    if (open.boot_token_hash === bootTokenHash && open.boot_address !== address) return { kind: 'other address', sessionId: open.id, boundTo: open.boot_address };
    return { kind: 'invalid', sessionId: open.id };
  }

  /** Records an alert on a session (at most `alertsPerSession` are kept) and announces the change. */
  async alert(sessionId: string, serverId: string, kind: RescueAlertKind, address: string, message: string): Promise<void> {
    const count = await this.#db.selectFrom('rescue_alerts').select((eb) => eb.fn.countAll<number>().as('n')).where('session_id', '=', sessionId).executeTakeFirst();
    if (Number(count?.n ?? 0) >= alertsPerSession) return;
    await this.#db.insertInto('rescue_alerts').values({ id: newId(), session_id: sessionId, server_id: serverId, kind, address, message, at: iso(this.#now()) }).execute();
    this.#changed(serverId);
  }

  /** A session's alerts, oldest first. */
  async alertsFor(sessionId: string): Promise<RescueAlert[]> {
    const rows = await this.#db.selectFrom('rescue_alerts').selectAll().where('session_id', '=', sessionId).orderBy('at').orderBy('id').execute();
    return rows.map((row) => ({ kind: row.kind as RescueAlertKind, address: row.address, message: row.message, at: new Date(row.at) }));
  }
}
