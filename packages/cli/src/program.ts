/**
 * The command tree of `lifeboat`, on commander: every command with its arguments, flags, help and an
 * example. The actions live in `commands.ts`; `serve`, `lab` and `image` are listed here for help and
 * completion, and run the deployables' own entry points (`entry-points.ts`).
 */
import { Command, Option } from 'commander';
import { hardwareTestKinds } from '@lifeboat/core';
import * as run from './commands.js';
import { bashCompletion, zshCompletion } from './completion.js';
import { desktop } from './desktop.js';
import { usageError } from './errors.js';
import type { Run } from './commands.js';

/** Subcommands of the deployables' command lines, for completion (their help is their own). */
export const entryPointSubcommands: Readonly<Record<string, readonly string[]>> = {
  lab: ['up', 'status', 'down', 'console', 'ssh'],
  image: ['build'],
};

const environment = `
Examples:
  $ lifeboat servers list
  $ lifeboat rescue enter web-1 --wait
  $ lifeboat rescue exit web-1 --wait --json

Environment: LIFEBOAT_URL (default http://127.0.0.1:8080), LIFEBOAT_TOKEN (or --token-file FILE;
default: $LIFEBOAT_DATA/admin.token when readable). Exit codes: 0 done, 1 refused by the control plane,
2 bad command line, 3 control plane unreachable, 4 --wait ended in a failed state (a failed hardware test).

Completion: source <(lifeboat completion bash)   (or zsh)`;

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Builds the program; `context` is what actions get (environment and output). */
export function buildProgram(context: Run): Command {
  const program = new Command('lifeboat')
    .description('Rescue mode for server fleets: the command line of Lifeboat. Every command takes --json.')
    .usage('COMMAND [options] [--json]')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: () => undefined })
    .addHelpText('after', environment);

  /** A command that talks to the control plane: the common flags, and an example in its help. */
  const api = (parent: Command, nameAndArgs: string, description: string, examples: readonly string[]) =>
    parent
      .command(nameAndArgs)
      .description(description)
      .option('--json', 'print the result as a JSON document')
      .option('--url <url>', 'control plane URL (default: $LIFEBOAT_URL, else http://127.0.0.1:8080)')
      .option('--token-file <file>', 'read the API token from FILE (default: $LIFEBOAT_TOKEN, else $LIFEBOAT_DATA/admin.token)')
      .addHelpText('after', `\nExample${examples.length > 1 ? 's' : ''}:\n${examples.map((e) => `  $ ${e}`).join('\n')}`);
  const group = (name: string, description: string, example: string) =>
    program.command(name).description(description).addHelpText('after', `\nExample:\n  $ ${example}`);
  const passThrough = (name: string, description: string, example: string) =>
    program
      .command(name)
      .description(description)
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .argument('[arguments...]')
      .addHelpText('after', `\nExample:\n  $ ${example}`);

  passThrough('serve', 'run the control plane (lifeboat serve --help for its options)', 'lifeboat serve --data ./data --listen 127.0.0.1:8080 --image ~/.cache/lifeboat/images/HASH');

  const tenants = group('tenants', 'tenants (customers) of the fleet (operator)', 'lifeboat tenants add acme');
  api(tenants, 'add <name>', 'add a tenant', ['lifeboat tenants add acme --email ops@acme.example'])
    .option('--email <address>', 'where rescue credentials go by default')
    .action((name: string, options) => run.tenantsAdd(name, options, context));
  api(tenants, 'list', 'list the tenants', ['lifeboat tenants list --json']).action((options) => run.tenantsList(options, context));

  const tokens = group('tokens', 'API tokens (operator)', 'lifeboat tokens create --tenant acme --role customer');
  api(tokens, 'create', 'create an API token (printed once)', ['lifeboat tokens create --tenant acme --role customer', 'lifeboat tokens create --role operator --name ci'])
    .addOption(new Option('--role <role>', 'what the token may do').choices(['customer', 'technician', 'operator']))
    .option('--tenant <name>', 'the tenant of a customer token')
    .option('--name <name>', 'a name to recognise the token by')
    .action((options) => run.tokensCreate(options, context));
  api(tokens, 'revoke <id>', 'revoke a token', ['lifeboat tokens revoke tok_0123']).action((id: string, options) => run.tokensRevoke(id, options, context));

  const users = group('users', 'people who sign in to the web console (operator)', 'lifeboat users add alice --tenant acme --role customer');
  api(users, 'add <name>', 'add a user; without --password-file a password is generated and printed once', [
    'lifeboat users add alice --tenant acme --role customer',
    'lifeboat users add tom --role technician --password-file tom.pw --email tom@example.net',
  ])
    .addOption(new Option('--role <role>', 'what the user may do (required)').choices(['customer', 'technician', 'operator']))
    .option('--tenant <name>', 'the tenant a customer belongs to (required for customers)')
    .option('--email <address>', "the user's e-mail address")
    .option('--password-file <file>', 'file holding the password (first line; at least 12 characters)')
    .action((name: string, options) => run.usersAdd(name, options, context));
  api(users, 'list', 'list the users', ['lifeboat users list', 'lifeboat users list --json']).action((options) => run.usersList(options, context));
  api(users, 'rm <name>', 'remove a user: their sessions end and their own API tokens are revoked', ['lifeboat users rm alice']).action((name: string, options) =>
    run.usersRemove(name, options, context),
  );

  const servers = group('servers', 'the servers of the fleet', 'lifeboat servers list');
  api(servers, 'add <name>', 'add a server with its NICs and BMC (operator)', [
    'lifeboat servers add web-1 --tenant acme --mac 52:54:00:12:34:56 --bmc ipmi://10.0.0.21 --bmc-user admin --bmc-password-file bmc.pw --ssh-endpoint 192.0.2.21:22',
  ])
    .option('--tenant <name>', 'the tenant the server belongs to (required)')
    .option('--mac <mac>', 'MAC address of a NIC that netboots (required; repeat for several)', collect)
    .option('--bmc <url>', 'BMC URL: ipmi://HOST[:PORT] or redfish://HOST[:PORT]/redfish/v1/Systems/ID (required)')
    .option('--bmc-user <user>', 'BMC user')
    .option('--bmc-password-file <file>', 'file holding the BMC password (first line)')
    .option('--ssh-endpoint <host:port>', "the server's SSH (installed system and rescue)")
    .option('--console <url>', "the server's serial console, tcp://HOST:PORT (default: the IPMI BMC's Serial-over-LAN)")
    .option('--profile <profile>', 'rescue profile the server may use (repeat for several; default linux)', collect)
    .action((name: string, options) => run.serversAdd(name, options, context));
  api(servers, 'list', 'list the servers the token may see', ['lifeboat servers list', 'lifeboat servers list --json']).action((options) => run.serversList(options, context));
  api(servers, 'show <name>', 'show one server', ['lifeboat servers show web-1 --json']).action((name: string, options) => run.serversShow(name, options, context));
  api(servers, 'rm <name>', 'remove a server (operator; not while in rescue)', ['lifeboat servers rm web-1']).action((name: string, options) => run.serversRemove(name, options, context));
  api(servers, 'validate <name>', "reach the server's BMC and report its power state, or the exact error (operator)", [
    'lifeboat servers validate web-1',
    'lifeboat servers validate web-1 --json',
  ]).action((name: string, options) => run.serversValidate(name, options, context));
  api(servers, 'set-bmc <name>', "change a server's BMC address, user or password (operator); a rescue retrying against the BMC uses them at its next attempt", [
    'lifeboat servers set-bmc web-1 --bmc-password-file bmc.pw',
    'lifeboat servers set-bmc web-1 --bmc ipmi://10.0.0.22 --bmc-user admin',
  ])
    .option('--bmc <url>', 'new BMC URL: ipmi://HOST[:PORT] or redfish://HOST[:PORT]/redfish/v1/Systems/ID')
    .option('--bmc-user <user>', 'new BMC user')
    .option('--bmc-password-file <file>', 'file holding the new BMC password (first line)')
    .option('--remove-bmc-password', 'remove the stored BMC password')
    .action((name: string, options) => run.serversSetBmc(name, options, context));

  const rescue = group('rescue', 'rescue mode: enter, exit, show, extend', 'lifeboat rescue enter web-1 --wait');
  api(rescue, 'enter <name>', 'netboot the server into the rescue system', [
    'lifeboat rescue enter web-1 --wait',
    'lifeboat rescue enter web-1 --ssh-key ~/.ssh/id_ed25519.pub --expires-in 4h --wait --json',
  ])
    .option('--profile <profile>', 'rescue profile (default linux)')
    .option('--ssh-key <file>', 'public key file allowed to log in (repeat for several; no password then)', collect)
    .option('--key <name>', 'a key registered with `lifeboat keys add` allowed to log in (repeat for several; no password then)', collect)
    .option('--email <address>', 'mail the credentials there')
    .option('--expires-in <duration>', 'lease, e.g. 90m, 24h, 2d')
    .option('--wait', 'print the boot timeline and return once the rescue system is ready')
    .action((name: string, options) => run.rescueEnter(name, options, context));
  api(rescue, 'exit <name>', 'boot the server from its disk again', ['lifeboat rescue exit web-1 --wait'])
    .option('--wait', 'return once the installed system answers')
    .action((name: string, options) => run.rescueExit(name, options, context));
  api(rescue, 'show <name>', 'show the rescue session: SSH access, host keys, agent', ['lifeboat rescue show web-1']).action((name: string, options) => run.rescueShow(name, options, context));
  api(rescue, 'extend <name>', 'move the end of the lease', ['lifeboat rescue extend web-1 --expires-in 8h'])
    .option('--expires-in <duration>', 'new lease from now, e.g. 90m, 24h (required)')
    .action((name: string, options) => run.rescueExtend(name, options, context));

  const keys = group('keys', "SSH public keys: the console gateway's logins, and rescue logins by name", 'lifeboat keys add laptop --public-key ~/.ssh/id_ed25519.pub');
  api(keys, 'add <name>', 'register a public key (ed25519, ecdsa, rsa of at least 2048 bits)', [
    'lifeboat keys add laptop --public-key ~/.ssh/id_ed25519.pub',
    'lifeboat keys add noc --public-key noc.pub --json   # a technician or operator: a staff key, every server',
  ])
    .option('--public-key <file>', 'the .pub file (required)')
    .option('--tenant <name>', "technicians and operators: the tenant's store (default: the staff keys)")
    .action((name: string, options) => run.keysAdd(name, options, context));
  api(keys, 'list', 'list the registered keys with their SHA256 fingerprints', ['lifeboat keys list', 'lifeboat keys list --tenant acme --json'])
    .option('--tenant <name>', "technicians and operators: the tenant's store (default: the staff keys)")
    .action((options) => run.keysList(options, context));
  api(keys, 'rm <name>', 'remove a key', ['lifeboat keys rm laptop'])
    .option('--tenant <name>', "technicians and operators: the tenant's store (default: the staff keys)")
    .action((name: string, options) => run.keysRemove(name, options, context));

  const incidents = group('incidents', 'incidents: a customer declares one with test results; technicians answer the queue', 'lifeboat incidents list');
  api(incidents, 'open <name>', 'declare an incident on a server, with hardware test results attached', [
    'lifeboat incidents open web-1 --message "sda fails SMART since this morning" --attach 3f2a9c1e',
    'lifeboat incidents open web-1 --message "memory errors" --attach 3f2a9c1e --attach 77b0d4aa --json',
  ])
    .option('--message <text>', 'what happened (required; its first line is the title)')
    .option('--attach <test-id>', 'a hardware test result of the server to attach (repeat for several)', collect)
    .action((name: string, options) => run.incidentsOpen(name, options, context));
  api(incidents, 'list', 'the queue: open first, oldest first (a customer sees its own incidents)', ['lifeboat incidents list', 'lifeboat incidents list --state open --json'])
    .addOption(new Option('--state <state>', 'only incidents in this state').choices(['open', 'acknowledged', 'resolved']))
    .option('--server <name>', "only this server's incidents")
    .action((options) => run.incidentsList(options, context));
  api(incidents, 'show <id>', 'an incident with its attached test results and comments', ['lifeboat incidents show 6b1f0e2c-…', 'lifeboat incidents show 6b1f0e2c-… --json'])
    .action((id: string, options) => run.incidentsShow(id, options, context));
  api(incidents, 'comment <id>', 'add a comment (technicians; the customer on its own incidents)', ['lifeboat incidents comment 6b1f0e2c-… --message "disk swap tonight at 22:00"'])
    .option('--message <text>', 'the comment (required)')
    .action((id: string, options) => run.incidentsComment(id, options, context));
  api(incidents, 'ack <id>', 'acknowledge an open incident (technician, operator)', ['lifeboat incidents ack 6b1f0e2c-…'])
    .action((id: string, options) => run.incidentsAcknowledge(id, options, context));
  api(incidents, 'resolve <id>', 'resolve an incident, with an optional closing message (technician, operator)', ['lifeboat incidents resolve 6b1f0e2c-… --message "sda replaced"'])
    .option('--message <text>', 'what was done (kept as the resolution and as a comment)')
    .action((id: string, options) => run.incidentsResolve(id, options, context));

  api(program, 'tasks <name>', "the server's tasks with their boot timelines", ['lifeboat tasks web-1']).action((name: string, options) => run.tasks(name, options, context));
  api(program, 'events [name]', 'live changes of servers (Server-Sent Events), one line (or JSON document) each', ['lifeboat events', 'lifeboat events web-1 --count 1 --json'])
    .option('--count <n>', 'stop after N events')
    .action((name: string | undefined, options) => run.events(name, options, context));

  const tests = group('tests', 'hardware tests of a server in rescue, and their history', 'lifeboat tests run web-1 smart sda --wait');
  api(tests, 'run <name> <kind> [device]', `run a hardware test in the rescue system: ${hardwareTestKinds.join('|')} (smart, readtest and fsck need a DEVICE: sda, nvme0n1, sda1, md0, vg0/root)`, [
    'lifeboat tests run web-1 smart sda --wait',
    'lifeboat tests run web-1 cpu --duration 10m --wait --json',
    'lifeboat tests run web-1 memory --size 2G --wait',
    'lifeboat tests run web-1 fsck sda1 --repair --wait',
  ])
    .option('--duration <duration>', 'cpu: how long to stress, e.g. 60s, 10m (default 60s, at most 24h)')
    .option('--size <size>', 'memory: how much to test, e.g. 256M, 2G (default: what the rescue system can spare)')
    .option('--repair', 'fsck: repair the file system instead of only checking it')
    .option('--self-test <which>', 'smart: short (default) or long self-test')
    .option('--wait', 'follow the test (progress on stderr) until it ends; exit 0 passed, 4 failed, 1 error or cancelled')
    .addHelpText('after', '\n--json prints {id, kind, device, status, progress, summary, result, ...}. Without --wait the command returns once the test is queued (exit 0).')
    .action((name: string, kind: string, device: string | undefined, options) => run.testsRun(name, kind, device, options, context));
  api(tests, 'list <name>', "the server's tests, newest first (kept after the rescue ended)", ['lifeboat tests list web-1', 'lifeboat tests list web-1 --json']).action((name: string, options) =>
    run.testsList(name, options, context),
  );
  api(tests, 'show <name> <id>', 'one test: status, summary, result (and its output with --output)', ['lifeboat tests show web-1 0f8c2a1e-...', 'lifeboat tests show web-1 0f8c2a1e-... --output'])
    .option('--output', "also print the test's kept output (its last 1 MiB)")
    .action((name: string, id: string, options) => run.testsShow(name, id, options, context));
  api(tests, 'cancel <name> <id>', 'cancel a test: a queued one at once, a running one at its next progress report', ['lifeboat tests cancel web-1 0f8c2a1e-...']).action(
    (name: string, id: string, options) => run.testsCancel(name, id, options, context),
  );
  const doctor = api(program, 'doctor <name>', "what the rescue doctor found on the installed system: each finding's severity, evidence and fix", [
    'lifeboat doctor web-1',
    'lifeboat doctor web-1 --json',
    'lifeboat doctor fix web-1 fstab-data',
    'lifeboat doctor undo web-1 fstab-data',
  ])
    .addHelpText('after', '\n--json prints {server, sessionId, current, receivedAt, report: {state, installedSystem, findings: [{id, severity, check, summary, evidence, fix}]}, fixes}.')
    .action((name: string, options) => run.doctorShow(name, options, context));
  api(doctor, 'fix <name> <finding>', "apply a finding's fix in the rescue system and wait for it (a copy of every changed file is kept beside it)", [
    'lifeboat doctor fix web-1 fstab-data',
    'lifeboat doctor fix web-1 root-login   # prints the new root password, once',
  ])
    .addHelpText('after', '\nExit 0 applied, 4 the rescue system could not apply it, 1 refused (no fix, already applied, not in rescue).')
    .action((name: string, finding: string, options) => run.doctorFix('fix', name, finding, options, context));
  api(doctor, 'undo <name> <finding>', 'put back the files a fix changed, and wait for it', ['lifeboat doctor undo web-1 fstab-data'])
    .action((name: string, finding: string, options) => run.doctorFix('undo', name, finding, options, context));
  const files = group('files', 'browse the partitions of a server in rescue, read-only: list, print, download, journal', 'lifeboat files ls web-1 sda1 /var/log');
  api(files, 'ls <name> <device> <path>', 'list a directory (symlinks shown with their targets, never followed out)', ['lifeboat files ls web-1 sda1 /etc', 'lifeboat files ls web-1 vg0/root /var/log --json'])
    .action((name: string, device: string, path: string, options) => run.filesList(name, device, path, options, context));
  api(files, 'cat <name> <device> <path>', 'print a file (read range by range)', ['lifeboat files cat web-1 sda1 /etc/fstab'])
    .action((name: string, device: string, path: string, options) => run.filesCat(name, device, path, options, context));
  api(files, 'get <name> <device> <path>', 'download a file, or a directory as a tar file', ['lifeboat files get web-1 sda1 /etc --out etc.tar', 'lifeboat files get web-1 sda1 /home/alice/db.sql --out db.sql'])
    .option('--out <file>', 'where to write it (required; - for stdout)')
    .action((name: string, device: string, path: string, options) => run.filesGet(name, device, path, options, context));
  api(files, 'journal <name> <device>', "the installed system's systemd journal (persistent journals only)", ['lifeboat files journal web-1 sda1 --boot -1 --priority err --lines 100'])
    .option('--lines <n>', 'how many of the last lines (default 200)')
    .option('--boot <n>', 'which boot: 0 the last one recorded (default), -1 the one before')
    .addOption(new Option('--priority <p>', 'only this priority and more urgent').choices(['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug']))
    .action((name: string, device: string, options) => run.filesJournal(name, device, options, context));

  api(program, 'desktop <name>', "the rescue desktop (windows profile): how to open it in the browser or a VNC viewer; --listen relays a local VNC port to it", [
    'lifeboat desktop web-1',
    'lifeboat desktop web-1 --listen 127.0.0.1:5900   # then: vncviewer localhost:5900',
  ])
    .option('--listen <host:port>', 'relay this loopback port to the desktop through the control plane until Ctrl-C (no VNC password: loopback only)')
    .addHelpText('after', '\n--json prints {server, available, reason, profile, websocket, tunnel, viewers, viewerLimit}.')
    .action((name: string, options) => desktop(name, options, context));

  const ca = group('ca', "the provider's SSH host CA: one known_hosts line trusts every rescue system", 'lifeboat ca show >> ~/.ssh/known_hosts');
  api(ca, 'show', 'print the @cert-authority line for known_hosts (--json: knownHostsLine, publicKey, fingerprint)', ['lifeboat ca show >> ~/.ssh/known_hosts', 'lifeboat ca show --json'])
    .action((options) => run.caShow(options, context));

  const consoleGroup = group('console', "servers' serial consoles: the SSH gateway (ssh -p PORT SERVER@HOST), the log recorded while entering and leaving rescue", 'lifeboat console info');
  api(consoleGroup, 'info', 'the SSH console gateway: address, host key fingerprint, the ssh command', ['lifeboat console info', 'lifeboat console info --json'])
    .action((options) => run.consoleInfo(options, context));
  api(consoleGroup, 'log <name>', "print the console recorded during a rescue session (raw bytes; --json: metadata and base64 data)", [
    'lifeboat console log web-1',
    'lifeboat console log web-1 --session 6f1c0d2e-... --json',
  ])
    .option('--session <id>', 'which rescue session (default: the latest recorded)')
    .action((name: string, options) => run.consoleLog(name, options, context));

  const netboot = group('netboot', 'netboot set-up for operators', 'lifeboat netboot dnsmasq-config --boot-url http://192.0.2.10:8080 --interface eth1 --range 192.0.2.0/24');
  api(netboot, 'dnsmasq-config', 'a dnsmasq proxy-DHCP configuration that chainloads iPXE to Lifeboat', [
    'lifeboat netboot dnsmasq-config --boot-url http://192.0.2.10:8080 --interface eth1 --range 192.0.2.0/24 > /etc/dnsmasq.d/lifeboat.conf',
  ])
    .option('--boot-url <url>', 'Lifeboat as the servers reach it (required)')
    .option('--interface <if>', 'interface facing the servers (required)')
    .option('--range <net/prefix>', 'the servers\' IPv4 subnet (required)')
    .option('--tftp-root <dir>', "directory with iPXE's undionly.kpxe and ipxe.efi (default /usr/lib/ipxe)")
    .action((options) => run.netbootDnsmasqConfig(options, context));

  passThrough('lab', 'the lab of simulated servers (lifeboat lab --help)', 'lifeboat lab up --servers 2 --register');
  passThrough('image', 'the rescue image builder (lifeboat image --help)', 'lifeboat image build --out ./image');

  program
    .command('completion')
    .description('print a shell completion script')
    .argument('<shell>', 'bash or zsh')
    .addHelpText('after', '\nExamples:\n  $ source <(lifeboat completion bash)\n  $ echo \'source <(lifeboat completion zsh)\' >> ~/.zshrc')
    .action((shell: string) => {
      if (shell === 'bash') process.stdout.write(bashCompletion(program, entryPointSubcommands));
      else if (shell === 'zsh') process.stdout.write(zshCompletion(program, entryPointSubcommands));
      else throw usageError(`no completion for ${shell}: expected bash or zsh`);
    });
  return program;
}
