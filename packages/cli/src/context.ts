/** What every command gets: where its output goes, and a client of the control plane. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LifeboatClient } from '@lifeboat/core';
import { usageError } from './errors.js';

/** The options every command takes. */
export interface CommonOptions {
  readonly json?: boolean;
  readonly url?: string;
  readonly tokenFile?: string;
}

/** Where a command writes. */
export interface Output {
  readonly json: boolean;
  /** Writes the command's result: the JSON document, or the human text. */
  result(document: unknown, human: string): void;
  /** Progress for humans (stderr); silent with --json. */
  progress(line: string): void;
  /** One line of a stream (`events`), on stdout. */
  line(text: string): void;
}

/** Output on the process's stdout and stderr. */
export function processOutput(json: boolean): Output {
  return {
    json,
    result(document, human) {
      process.stdout.write(json ? `${JSON.stringify(document, null, 2)}\n` : human ? `${human}\n` : '');
    },
    progress(line) {
      if (!json) process.stderr.write(`${line}\n`);
    },
    line(text) {
      process.stdout.write(`${text}\n`);
    },
  };
}

/** The first line of a file holding a secret (token, BMC password); a usage error naming the file otherwise. */
export function readSecretFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n')[0]!.trim();
  } catch (error) {
    throw usageError(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** The API token: `--token-file`, else `LIFEBOAT_TOKEN`, else the operator token in `$LIFEBOAT_DATA/admin.token`. */
export function tokenFor(options: CommonOptions, env: NodeJS.ProcessEnv): string | undefined {
  if (typeof options.tokenFile === 'string') return readSecretFile(options.tokenFile, 'token file');
  if (env.LIFEBOAT_TOKEN) return env.LIFEBOAT_TOKEN.trim();
  const adminFile = join(resolve(env.LIFEBOAT_DATA ?? 'data'), 'admin.token');
  if (existsSync(adminFile)) {
    try {
      return readFileSync(adminFile, 'utf8').trim();
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The client of the control plane: `--url`, else `LIFEBOAT_URL`, else http://127.0.0.1:8080. */
export function clientFor(options: CommonOptions, env: NodeJS.ProcessEnv): LifeboatClient {
  const url = typeof options.url === 'string' ? options.url : (env.LIFEBOAT_URL ?? 'http://127.0.0.1:8080');
  return new LifeboatClient({ url, token: tokenFor(options, env) });
}
