/**
 * Secrets kept for a while and read back (a rescue password waiting to be mailed once the rescue
 * system is ready), sealed with the data directory's key: the database alone reveals nothing.
 */
import type { Kysely } from 'kysely';
import type { SecretBox } from '../credentials/secret-box.js';
import type { Database } from './schema.js';
import { iso, isUniqueViolation, type Clock } from './rows.js';

/** Sealed secrets by id. */
export class SecretStore {
  readonly #db: Kysely<Database>;
  readonly #now: Clock;
  readonly #box: SecretBox;

  constructor(db: Kysely<Database>, now: Clock, box: SecretBox) {
    this.#db = db;
    this.#now = now;
    this.#box = box;
  }

  /** Seals and stores a secret under `id` (replacing any previous one). */
  async put(id: string, plain: string): Promise<void> {
    await this.#db.deleteFrom('secrets').where('id', '=', id).execute();
    await this.#db.insertInto('secrets').values({ id, sealed: this.#box.seal(plain), created_at: iso(this.#now()) }).execute();
  }

  /**
   * The secret under `id`; when there is none, stores `create()`'s. Replicas starting together all end
   * up with the first one stored (the insert of the others collides and they read it back).
   */
  async getOrCreate(id: string, create: () => string): Promise<string> {
    const existing = await this.get(id);
    if (existing !== undefined) return existing;
    try {
      await this.#db.insertInto('secrets').values({ id, sealed: this.#box.seal(create()), created_at: iso(this.#now()) }).execute();
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
    }
    const stored = await this.get(id);
    if (stored === undefined) throw new Error(`secret ${id} vanished while it was created`);
    return stored;
  }

  /** The secret stored under `id`, opened, or undefined. */
  async get(id: string): Promise<string | undefined> {
    const row = await this.#db.selectFrom('secrets').select('sealed').where('id', '=', id).executeTakeFirst();
    return row && this.#box.open(row.sealed);
  }

  /** Forgets a secret. */
  async delete(id: string): Promise<void> {
    await this.#db.deleteFrom('secrets').where('id', '=', id).execute();
  }
}
