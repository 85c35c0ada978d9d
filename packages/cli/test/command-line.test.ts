import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { lifeboatBin as bin, runLifeboat } from './run-cli.js';


/** A usage line: `Usage: lifeboat rescue enter [options] <name>`, `lifeboat serve [options]: ...`. */
const usageLine = /^\s*(usage:\s*)?lifeboat [a-z]/im;


const lifeboat = (args: string[], env: NodeJS.ProcessEnv = process.env) => runLifeboat(args, env, 60_000);

/** The names in the "Commands:" section of a commander help text. */
function commandsOf(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1];
  if (!section) return [];
  return section
    .split('\n')
    .map((line) => /^ {2}([a-z][a-z-]*)/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined && name !== 'help');
}

// About 70 CLI processes (1–2 s of CPU each) for the help texts: generous on a loaded 2-core machine.
describe('lifeboat command line', { timeout: 900_000 }, () => {
  it('answers --help with a usage line for every command and subcommand that lifeboat --help lists', async () => {
    const root = await lifeboat(['--help']);
    assert.equal(root.code, 0);
    const commands = commandsOf(root.stdout);
    for (const expected of ['serve', 'tenants', 'tokens', 'users', 'servers', 'rescue', 'keys', 'tasks', 'events', 'tests', 'doctor', 'files', 'ca', 'console', 'incidents', 'netboot', 'lab', 'image', 'completion']) {
      assert.ok(commands.includes(expected), `${expected} is listed: ${commands.join(', ')}`);
    }
    const paths: string[][] = [];
    for (const command of commands) {
      const help = await lifeboat([command, '--help']);
      assert.equal(help.code, 0, `${command} --help: ${help.stderr}`);
      assert.match(help.stdout, usageLine, `${command} --help prints a usage line`);
      for (const sub of commandsOf(help.stdout)) paths.push([command, sub]);
    }
    // The deployables' own subcommands answer --help too (their usage is their own).
    paths.push(['lab', 'up'], ['lab', 'status'], ['lab', 'down'], ['lab', 'console'], ['lab', 'ssh'], ['image', 'build']);
    // Every subcommand of the contract is found in the help texts (new commands only add to the list).
    const found = paths.map((p) => p.join(' '));
    for (const expected of ['tenants add', 'tenants list', 'tokens create', 'tokens revoke', 'servers add', 'servers list', 'servers show', 'servers rm', 'servers validate', 'servers set-bmc', 'rescue enter', 'rescue exit', 'rescue show', 'rescue extend', 'netboot dnsmasq-config', 'tests run', 'tests list', 'tests show', 'tests cancel', 'files ls', 'files cat', 'files get', 'files journal', 'ca show', 'incidents open', 'incidents list', 'incidents show', 'incidents comment', 'incidents resolve']) {
      assert.ok(found.includes(expected), `${expected} is listed: ${found.join(', ')}`);
    }
    // Two at a time (the machine has two cores); each answer is checked on its own.
    const helps = new Map<string[], Awaited<ReturnType<typeof lifeboat>>>();
    const queue = [...paths];
    await Promise.all([0, 1].map(async () => {
      for (let path = queue.shift(); path; path = queue.shift()) helps.set(path, await lifeboat([...path, '--help']));
    }));
    for (const path of paths) {
      const help = helps.get(path)!;
      assert.equal(help.code, 0, `${path.join(' ')} --help: ${help.stderr}`);
      assert.match(help.stdout, usageLine, `${path.join(' ')} --help prints a usage line`);
      if (path[0] !== 'lab' && path[0] !== 'image') assert.match(help.stdout, /Examples?:\n {2}\$ lifeboat /, `${path.join(' ')} --help shows an example`);
    }
  });

  it('ends quietly when its reader is gone (lifeboat completion bash | true)', () => {
    for (let run = 0; run < 3; run++) {
      const piped = spawnSync('bash', ['-c', `"${process.execPath}" "${bin}" completion bash | true; echo "status=\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
      assert.equal(piped.stderr, '', 'no stack trace');
      assert.match(piped.stdout, /^status=0$/m);
    }
  });

  it('suggests a command or flag for a mistyped one, and exits 2', async () => {
    const command = await lifeboat(['servrs', 'list']);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /USAGE: unknown command 'servrs' \(Did you mean servers\?\)/);
    const sub = await lifeboat(['rescue', 'entr', 'web-1', '--json']);
    assert.equal(sub.code, 2);
    assert.deepEqual(JSON.parse(sub.stdout), { code: 'USAGE', message: "unknown command 'entr' (Did you mean enter?)" });
    const flag = await lifeboat(['servers', 'list', '--jsn']);
    assert.equal(flag.code, 2);
    assert.match(flag.stderr, /unknown option '--jsn' \(Did you mean --json\?\)/);
    const missing = await lifeboat(['rescue', 'enter']);
    assert.equal(missing.code, 2);
    const none = await lifeboat([]);
    assert.equal(none.code, 2);
    assert.match(none.stdout, /^Usage: lifeboat/);
  });

  it('prints a bash completion script generated from the command tree that completes commands and flags', async () => {
    const script = await lifeboat(['completion', 'bash']);
    assert.equal(script.code, 0, script.stderr);
    const complete = (words: string[]) => {
      const line = words.map((w) => `'${w}'`).join(' ');
      const result = spawnSync('bash', ['-c', `${script.stdout}\nCOMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; _lifeboat_complete; printf '%s\\n' "\${COMPREPLY[@]}"`], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      return result.stdout.split('\n').filter(Boolean);
    };
    assert.deepEqual(complete(['lifeboat', '']), ['serve', 'tenants', 'tokens', 'users', 'servers', 'rescue', 'keys', 'incidents', 'tasks', 'events', 'tests', 'doctor', 'files', 'desktop', 'ca', 'console', 'netboot', 'lab', 'image', 'completion']);
    assert.deepEqual(complete(['lifeboat', 'desktop', 'web-1', '--']), ['--json', '--url', '--token-file', '--listen', '--help']);
    assert.deepEqual(complete(['lifeboat', 'doctor', '']), ['fix', 'undo', '--json', '--url', '--token-file']);
    assert.deepEqual(complete(['lifeboat', 'ser']), ['serve', 'servers']);
    assert.deepEqual(complete(['lifeboat', 'rescue', '']), ['enter', 'exit', 'show', 'extend']);
    assert.deepEqual(complete(['lifeboat', 'users', '']), ['add', 'list', 'rm']);
    assert.deepEqual(complete(['lifeboat', 'incidents', '']), ['open', 'list', 'show', 'comment', 'ack', 'resolve']);
    assert.deepEqual(complete(['lifeboat', 'rescue', 'enter', 'web-1', '--ex']), ['--expires-in']);
    assert.deepEqual(complete(['lifeboat', 'lab', '']), ['up', 'status', 'down', 'console', 'ssh', '--help']);
    const zsh = await lifeboat(['completion', 'zsh']);
    assert.equal(zsh.code, 0);
    assert.match(zsh.stdout, /bashcompinit/);
    assert.ok(zsh.stdout.includes('_lifeboat_complete'));
    const fish = await lifeboat(['completion', 'fish']);
    assert.equal(fish.code, 2);
  });

  describe('serve runs the control plane as a child process', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-serve-'));
    after(() => rmSync(dir, { recursive: true, force: true }));

    const freePort = () =>
      new Promise<number>((resolve) => {
        const server = createServer().listen(0, '127.0.0.1', () => {
          const address = server.address();
          server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
        });
      });

    /** Starts `lifeboat serve` in its own process group; resolves once the API answers. */
    async function serve(name: string) {
      const port = await freePort();
      const child = spawn(process.execPath, [bin, 'serve', '--data', join(dir, name), '--listen', `127.0.0.1:${port}`, '--console-listen', '127.0.0.1:0', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      for (;;) {
        const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
        if (ok) break;
        assert.equal(child.exitCode, null, `lifeboat serve exited early: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return { child, port, exited, stderr: () => stderr };
    }
    const answers = (port: number) => fetch(`http://127.0.0.1:${port}/healthz`).then(() => true, () => false);

    it('SIGTERM to the CLI stops the control plane cleanly: the CLI exits with its code, 0', async () => {
      const running = await serve('term');
      running.child.kill('SIGTERM');
      assert.equal(await running.exited, 0, running.stderr());
      assert.equal(await answers(running.port), false);
    });

    it('Ctrl-C (SIGINT to the whole process group) stops it once, cleanly: exit 0', async () => {
      const running = await serve('int');
      process.kill(-running.child.pid!, 'SIGINT');
      assert.equal(await running.exited, 0, running.stderr());
      assert.equal(await answers(running.port), false);
    });
  });
});
