/** Conversions between rows and domain values, shared by the repositories. */
import { randomUUID } from 'node:crypto';

/** A clock, injectable so that tests can move time instead of waiting. */
export type Clock = () => Date;

/** A new record id. */
export function newId(): string {
  return randomUUID();
}

/** A time as stored. */
export function iso(date: Date): string {
  return date.toISOString();
}

/** A stored time back as a Date. */
export function dateOf(text: string): Date;
export function dateOf(text: string | null): Date | null;
export function dateOf(text: string | null): Date | null {
  return text === null ? null : new Date(text);
}

/** Parses a JSON column. */
export function json<T>(text: string | null, fallback: T): T {
  return text === null ? fallback : (JSON.parse(text) as T);
}

/** Whether an error is a unique-constraint violation, on either dialect. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e.code === '23505' || e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}
