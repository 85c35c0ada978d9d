#!/usr/bin/env node
// The `lifeboat` command: runs the TypeScript sources through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
// A reader that stops early (`lifeboat --help | head`) closes the pipe: that ends the output, not in a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
