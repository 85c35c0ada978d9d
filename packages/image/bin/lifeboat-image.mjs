#!/usr/bin/env node
// The rescue image builder's entry point (`lifeboat image ...` runs it as a child process): the
// TypeScript sources through tsx (no build step), `main(argv)` of src/cli.ts, its exit code.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
