#!/usr/bin/env node
// The `lifeboat` command: `main(argv)` of src/main.ts, its exit code. It runs from a bundle built from
// the sources when they change (@lifeboat/core/bundle: a command starts in a fraction of a second
// instead of 1 to 2 s through tsx); LIFEBOAT_CLI_FROM_SOURCE=1 runs the TypeScript sources through tsx.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { entryModule } from '@lifeboat/core/bundle';

// A reader that stops early (`lifeboat --help | head`) closes the pipe: that ends the output, not in a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const entry = await entryModule({
  packageDir,
  entry: 'src/main.ts',
  outfile: join(packageDir, 'dist/bundle/lifeboat.mjs'),
  fromSource: process.env.LIFEBOAT_CLI_FROM_SOURCE === '1',
});
const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2));
