/**
 * The `~.` escape of a console viewer, handled by the gateway: OpenSSH's own escape is off in a
 * session without a terminal or with `-e none`, and it would never reach a WebSocket. As in OpenSSH,
 * `~` is special only at the start of a line: `~.` detaches, `~~` sends one `~`, any other `~x`
 * sends both bytes. Input is returned as it should reach the console, the held `~` included once it
 * is known not to start an escape.
 */
export class EscapeDetector {
  #atLineStart = true;
  #holdingTilde = false;

  /** Feeds a chunk of the viewer's input: what to send on, and whether the viewer asked to detach (the rest is dropped). */
  feed(chunk: Buffer): { readonly forward: Buffer; readonly detach: boolean } {
    const out: number[] = [];
    for (const byte of chunk) {
      if (this.#holdingTilde) {
        this.#holdingTilde = false;
        if (byte === 0x2e) return { forward: Buffer.from(out), detach: true };
        if (byte === 0x7e) {
          out.push(0x7e);
          this.#atLineStart = false;
          continue;
        }
        out.push(0x7e);
      } else if (byte === 0x7e && this.#atLineStart) {
        this.#holdingTilde = true;
        continue;
      }
      out.push(byte);
      this.#atLineStart = byte === 0x0d || byte === 0x0a;
    }
    return { forward: Buffer.from(out), detach: false };
  }
}
