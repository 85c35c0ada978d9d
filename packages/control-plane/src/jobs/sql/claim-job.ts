/**
 * Claims the next runnable job: a pending job whose time has come, or a running job whose lease
 * expired (its worker crashed). One statement, so the claim is atomic.
 *
 * PostgreSQL: `FOR UPDATE SKIP LOCKED` in the subquery lets concurrent workers pass over a row another
 * worker is claiming instead of queueing behind its lock (graphile-worker's getJobs). Without SKIP
 * LOCKED, two workers would pick the same row and the second would re-check it after the first commits,
 * updating nothing and leaving that worker idle for one poll.
 * SQLite: there is one writer at a time for the whole file, so the same UPDATE ... WHERE id = (SELECT
 * ...) is already exclusive; `FOR UPDATE` does not exist there. An explicit `BEGIN IMMEDIATE` was
 * considered and rejected: a single statement is its own write transaction already.
 *
 * Lock keys (`server:<id>`): a job is not claimable while another job with its key is running, even
 * with an expired lease (that job is itself claimable and resumes first, so a crashed worker's key is
 * freed by its job finishing, never by a second job running beside the first's half-done BMC work).
 * Under PostgreSQL's READ COMMITTED two claims can both pass the NOT EXISTS for two different rows of
 * one key; the partial unique index `jobs_one_running_per_lock` then refuses the second (the queue
 * treats that as "nothing to claim"). An advisory lock per key was considered and rejected: it lives
 * in a session, not in the row, so a crashed worker's lock would not expire with its lease.
 */
import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../../store/database.js';
import type { Database, JobRow } from '../../store/schema.js';

/** Claims one job for `workerId` until `lockedUntil`, or returns undefined when none is runnable. */
export async function claimJob(
  db: Kysely<Database>,
  dialect: DialectName,
  workerId: string,
  now: string,
  lockedUntil: string,
  kinds: readonly string[],
): Promise<JobRow | undefined> {
  const lock = dialect === 'postgres' ? sql`for update skip locked` : sql``;
  const result = await sql<JobRow>`
    update jobs
       set state = 'running', locked_by = ${workerId}, locked_until = ${lockedUntil},
           attempts = attempts + 1, updated_at = ${now}
     where id = (
       select id from jobs candidate
        where kind in (${sql.join(kinds)})
          and ((state = 'pending' and run_at <= ${now})
               or (state = 'running' and locked_until < ${now}))
          and (lock_key is null
               or not exists (select 1 from jobs holder
                               where holder.lock_key = candidate.lock_key
                                 and holder.state = 'running'
                                 and holder.id <> candidate.id))
        order by run_at, created_at
        limit 1
        ${lock}
     )
    returning *`.execute(db);
  return result.rows[0];
}
