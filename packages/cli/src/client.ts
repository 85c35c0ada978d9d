/** The CLI's HTTP client of the control plane: bearer token, JSON in and out, `{code, message}` errors. */

/** An error the CLI reports: a stable code, a message, and the exit code it maps to. */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: number;
  constructor(code: string, message: string, exitCode: number) {
    super(message);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** Exit codes of the CLI. */
export const exitCodes = {
  ok: 0,
  /** The control plane refused (its error code is printed). */
  refused: 1,
  /** Bad command line. */
  usage: 2,
  /** The control plane could not be reached. */
  unreachable: 3,
  /** `--wait` ended in a failed state (rescue_failed, exit_failed). */
  failed: 4,
} as const;

/** Talks to one control plane with one token. */
export class ControlPlane {
  readonly #base: string;
  readonly #token: string | undefined;

  constructor(base: string, token: string | undefined) {
    this.#base = base.replace(/\/+$/, '');
    this.#token = token;
  }

  /**
   * Reads a Server-Sent Events stream, calling `onEvent(event, data)` for each event until it returns
   * false or the stream ends.
   */
  async stream(path: string, onEvent: (event: string, data: string) => boolean): Promise<void> {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    const controller = new AbortController();
    let response: Response;
    try {
      response = await fetch(`${this.#base}${path}`, { headers, signal: controller.signal });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new CliError('UNREACHABLE', `cannot reach the control plane at ${this.#base} (${cause}); is it running? (LIFEBOAT_URL)`, exitCodes.unreachable);
    }
    if (!response.ok || !response.body) {
      const answer = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
      throw new CliError(answer.code ?? `HTTP_${response.status}`, answer.message ?? response.statusText, exitCodes.refused);
    }
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0 && !onEvent(event, data.join('\n'))) return;
        }
      }
    } finally {
      controller.abort();
    }
  }

  /** Sends a request; resolves to the JSON answer (undefined for 204). */
  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.#base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new CliError('UNREACHABLE', `cannot reach the control plane at ${this.#base} (${cause}); is it running? (LIFEBOAT_URL)`, exitCodes.unreachable);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const answer = (parsed ?? {}) as { code?: string; message?: string };
      throw new CliError(answer.code ?? `HTTP_${response.status}`, answer.message ?? response.statusText, exitCodes.refused);
    }
    return parsed as T;
  }
}
