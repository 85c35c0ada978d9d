/** A bounded byte buffer keeping the last `capacity` bytes written to it (a console's scrollback). */
export class ByteRing {
  readonly #buffer: Buffer;
  /** Where the next byte goes. */
  #end = 0;
  #length = 0;
  #total = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('ring capacity must be a positive integer');
    this.#buffer = Buffer.alloc(capacity);
  }

  /** Bytes held now (at most the capacity). */
  get length(): number {
    return this.#length;
  }

  /** Bytes ever written. */
  get total(): number {
    return this.#total;
  }

  /** Bytes written but no longer held. */
  get dropped(): number {
    return this.#total - this.#length;
  }

  /** Appends bytes, forgetting the oldest beyond the capacity. */
  push(chunk: Buffer): void {
    const capacity = this.#buffer.length;
    this.#total += chunk.length;
    const data = chunk.length > capacity ? chunk.subarray(chunk.length - capacity) : chunk;
    const first = Math.min(data.length, capacity - this.#end);
    data.copy(this.#buffer, this.#end, 0, first);
    data.copy(this.#buffer, 0, first);
    this.#end = (this.#end + data.length) % capacity;
    this.#length = Math.min(capacity, this.#length + data.length);
  }

  /** A copy of the bytes held, oldest first. */
  snapshot(): Buffer {
    const capacity = this.#buffer.length;
    const start = (this.#end - this.#length + capacity) % capacity;
    if (start + this.#length <= capacity) return Buffer.from(this.#buffer.subarray(start, start + this.#length));
    return Buffer.concat([this.#buffer.subarray(start), this.#buffer.subarray(0, this.#end)]);
  }
}
