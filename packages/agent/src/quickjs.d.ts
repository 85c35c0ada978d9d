/**
 * The parts of QuickJS's `os` and `std` modules (quickjs-libc, the runtime of the agent in the rescue
 * image) that platform-quickjs.ts uses. Signatures follow QuickJS's documentation: calls that can fail
 * return a negated errno (or `[value, errno]`) instead of throwing.
 */
declare module 'os' {
  export const O_RDONLY: number;
  export const O_WRONLY: number;
  export const O_RDWR: number;
  export const O_CREAT: number;
  export const O_TRUNC: number;
  export const O_APPEND: number;
  export const O_EXCL: number;
  export const WNOHANG: number;
  export const SIGTERM: number;
  export const SIGINT: number;
  export interface Stat {
    mode: number;
    uid: number;
    gid: number;
    size: number;
  }
  export function open(path: string, flags: number, mode?: number): number;
  export function close(fd: number): number;
  export function read(fd: number, buffer: ArrayBuffer, offset: number, length: number): number;
  export function write(fd: number, buffer: ArrayBuffer, offset: number, length: number): number;
  export function remove(path: string): number;
  export function rename(from: string, to: string): number;
  export function mkdir(path: string, mode?: number): number;
  export function stat(path: string): [Stat, number];
  export function readdir(path: string): [string[], number];
  export function readlink(path: string): [string, number];
  export function pipe(): [number, number] | null;
  export function exec(
    args: string[],
    options?: { block?: boolean; usePath?: boolean; file?: string; cwd?: string; stdin?: number; stdout?: number; stderr?: number; env?: Record<string, string> },
  ): number;
  export function waitpid(pid: number, options: number): [number, number];
  export function kill(pid: number, signal: number): number;
  export function signal(signal: number, handler: (() => void) | null | undefined): void;
  export function setReadHandler(fd: number, handler: (() => void) | null): void;
  export function setTimeout(handler: () => void, ms: number): unknown;
  export function clearTimeout(timer: unknown): void;
}

declare module 'std' {
  export interface FILE {
    puts(text: string): void;
    readAsString(max?: number): string;
    flush(): void;
    close(): number;
    fileno(): number;
  }
  export const out: FILE;
  export const err: FILE;
  export function open(path: string, mode: string, error?: { errno?: number }): FILE | null;
  export function fdopen(fd: number, mode: string, error?: { errno?: number }): FILE | null;
  /** An anonymous file (created and unlinked in /tmp, mode 0600), gone when closed. */
  export function tmpfile(error?: { errno?: number }): FILE | null;
  export function getenv(name: string): string | undefined;
  export function strerror(errno: number): string;
  export function exit(code: number): never;
}
