/**
 * The SSH wire encoding (RFC 4251 §5) that keys and certificates are made of: big-endian integers and
 * length-prefixed strings, written and read.
 */

/** Builds a byte string field by field. */
export class WireWriter {
  readonly #parts: Buffer[] = [];

  /** A `uint32`. */
  uint32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value);
    this.#parts.push(b);
    return this;
  }

  /** A `uint64`. */
  uint64(value: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(value);
    this.#parts.push(b);
    return this;
  }

  /** A `string`: its length, then its bytes (text is UTF-8). */
  string(value: Buffer | string): this {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.uint32(bytes.length);
    this.#parts.push(bytes);
    return this;
  }

  /** Bytes as they are, with no length (a field list copied from another blob). */
  raw(bytes: Buffer): this {
    this.#parts.push(bytes);
    return this;
  }

  /** Everything written so far. */
  bytes(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

/** Reads fields in order; throws `Error(what is truncated)` past the end. */
export class WireReader {
  readonly #data: Buffer;
  #offset = 0;

  constructor(data: Buffer) {
    this.#data = data;
  }

  /** A `uint32`. */
  uint32(): number {
    if (this.#offset + 4 > this.#data.length) throw new Error('truncated');
    const value = this.#data.readUInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }

  /** A `string`'s bytes. */
  string(): Buffer {
    const length = this.uint32();
    if (this.#offset + length > this.#data.length) throw new Error('truncated');
    const value = this.#data.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }

  /** The bytes not read yet. */
  rest(): Buffer {
    return this.#data.subarray(this.#offset);
  }
}
