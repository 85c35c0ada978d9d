/**
 * The HTTP API's schemas live in `@lifeboat/core` (`core/src/api/schemas.ts`), the contract every client
 * shares; the routes take them from here.
 */
export * from '@lifeboat/core/api';
