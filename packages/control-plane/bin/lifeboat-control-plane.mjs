#!/usr/bin/env node
// The control plane's entry point (`lifeboat serve` runs it as a child process): `main(argv)` of
// src/main.ts, its exit code. It runs from a bundle built from the sources when they change
// (./bundle.mjs: about half the memory of running them through tsx);
// LIFEBOAT_CONTROL_PLANE_FROM_SOURCE=1 runs the TypeScript sources through tsx instead.

// Run by `lifeboat serve` from a terminal, Ctrl-C reaches this process twice: from the terminal (same
// process group) and forwarded by the CLI. The same signal again within a second is that duplicate, not
// a second request. Otherwise, when main is not listening (still starting, or already shutting down
// after a first signal), the signal ends the process at once, as it would without this listener.
const lastSignal = { name: '', at: 0 };
const signalNumbers = { SIGINT: 2, SIGTERM: 15 };
for (const name of Object.keys(signalNumbers)) {
  process.on(name, () => {
    const now = Date.now();
    const duplicate = lastSignal.name === name && now - lastSignal.at < 1000;
    lastSignal.name = name;
    lastSignal.at = now;
    if (!duplicate && process.listenerCount(name) === 1) process.exit(128 + signalNumbers[name]);
  });
}

const { entryModule } = await import('./bundle.mjs');
const entry = await entryModule(process.env.LIFEBOAT_CONTROL_PLANE_FROM_SOURCE === '1');
const { main } = await import(entry);
process.exitCode = await main(process.argv.slice(2));
