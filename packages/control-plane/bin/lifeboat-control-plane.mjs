#!/usr/bin/env node
// The control plane's entry point (`lifeboat serve` runs it as a child process): the TypeScript
// sources through tsx (no build step), `main(argv)` of src/main.ts, its exit code.
import { register } from 'tsx/esm/api';

// Run by `lifeboat serve` from a terminal, Ctrl-C reaches this process twice: from the terminal (same
// process group) and forwarded by the CLI. The same signal again within a second is that duplicate, not
// a second request; a later one (main has stopped listening while it shuts down) ends the process now.
const lastSignal = { name: '', at: 0 };
const signalNumbers = { SIGINT: 2, SIGTERM: 15 };
for (const name of Object.keys(signalNumbers)) {
  process.on(name, () => {
    const now = Date.now();
    const duplicate = lastSignal.name === name && now - lastSignal.at < 1000;
    const first = lastSignal.at === 0;
    lastSignal.name = name;
    lastSignal.at = now;
    if (!first && !duplicate && process.listenerCount(name) === 1) process.exit(128 + signalNumbers[name]);
  });
}

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
