/**
 * fast-check arbitraries from the JSON schemas of the OpenAPI document: values a schema accepts, and
 * the same mutated the way an attacker or a broken client would (wrong types, NUL bytes, huge numbers,
 * unicode, `../`, overlong strings, random JSON). Used by the schema fuzzer only.
 */
import fc from 'fast-check';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Schema = Record<string, any>;

/** Strings that broke, or could break, a control plane: each one a known kind of trouble. */
export const nastyStrings: readonly string[] = [
  '\u0000',
  'a\u0000b',
  '../../../etc/passwd',
  '..',
  '/',
  '%00',
  '%ff',
  '\ud800',
  '\u202egnp.exe',
  '😀'.repeat(8),
  'e\u0301',
  ' ',
  'li nux',
  'x\n',
  '\r\n',
  "'; DROP TABLE servers; --",
  '${jndi:ldap://x}',
  '<script>alert(1)</script>',
  'null',
  '-1',
  '1e309',
  '99999999999d',
  '0s',
  '-5m',
  'NaN',
  '__proto__',
  'constructor',
];

/** Values of the wrong kind, of any schema. */
const nastyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...nastyStrings),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  // Overlong: past every declared maximum, under the body limit.
  fc.integer({ min: 1000, max: 300_000 }).map((n) => 'x'.repeat(n)),
  fc.constantFrom(2 ** 53 + 1, 1e308, -1e308, -1, 0, 0.5, Number.MAX_SAFE_INTEGER, 2 ** 31, -(2 ** 63)),
  fc.constantFrom(true, false, null, [], {}, [[[[]]]], { '': null }),
  fc.jsonValue({ maxDepth: 3 }),
);

/** A value `schema` accepts (as far as its keywords go: patterns are followed, formats where fast-check has them). */
export function validValue(schema: Schema): fc.Arbitrary<unknown> {
  if (Array.isArray(schema.anyOf)) return fc.oneof(...schema.anyOf.map((s: Schema) => validValue(s)));
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  if (schema.nullable === true) return fc.option(validValue({ ...schema, nullable: false }), { nil: null });
  switch (schema.type) {
    case 'string': {
      if (schema.format === 'email') return fc.emailAddress();
      const maxLength = Math.min(schema.maxLength ?? 40, 80);
      const minLength = Math.min(schema.minLength ?? 0, maxLength);
      if (typeof schema.pattern === 'string') return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length >= minLength && s.length <= (schema.maxLength ?? Infinity));
      return fc.string({ minLength, maxLength });
    }
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'array':
      return fc.array(validValue(schema.items ?? {}), { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, 4) });
    case 'object': {
      const properties = Object.entries((schema.properties ?? {}) as Record<string, Schema>);
      if (properties.length === 0) return fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
      return fc.record(Object.fromEntries(properties.map(([k, s]) => [k, validValue(s)])), { requiredKeys: (schema.required ?? []) as string[] });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** A value of `schema`, mutated now and then at any depth: valid three times out of four at each level. */
export function fuzzedValue(schema: Schema, depth = 0): fc.Arbitrary<unknown> {
  let inner: fc.Arbitrary<unknown> = validValue(schema);
  if (depth < 3 && schema.type === 'object' && schema.properties) {
    const properties = Object.entries(schema.properties as Record<string, Schema>);
    // Any key may be missing (required ones too), any may be mutated, and unknown keys come along.
    inner = fc
      .tuple(fc.record(Object.fromEntries(properties.map(([k, s]) => [k, fuzzedValue(s, depth + 1)])), { requiredKeys: [] }), fc.dictionary(fc.constantFrom('extra', '__proto__', 'constructor', '\u0000'), nastyValue, { maxKeys: 1 }))
      .map(([known, extra]) => ({ ...extra, ...known }));
  } else if (depth < 3 && schema.type === 'array' && schema.items) {
    inner = fc.array(fuzzedValue(schema.items, depth + 1), { maxLength: 6 });
  }
  return fc.oneof({ arbitrary: inner, weight: 3 }, { arbitrary: nastyValue, weight: 1 });
}

/** A path segment: usually a value percent-encoded, sometimes raw bytes a URL parser must refuse or decode. */
export const badPercentEncodings: readonly string[] = ['%ff', '%', '%zz', '%c0%ae%c0%ae', '%2e%2e%2f%2e%2e', '%00', '%e2%82', 'a%2fb', '%25ff'];
