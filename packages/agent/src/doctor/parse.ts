/**
 * Parsers of the installed system's configuration files and of the rescue's command outputs, for the
 * rescue doctor's checks. Pure functions over text: tested in node beside this file, bundled for QuickJS.
 */

/** One line of /etc/fstab. */
export interface FstabEntry {
  /** Line number, from 1. */
  readonly line: number;
  /** The line as it is. */
  readonly text: string;
  readonly spec: string;
  readonly file: string;
  readonly type: string;
  readonly options: string[];
}

/** Parses /etc/fstab (comments and blank lines skipped; `\040` in a mount point is a space). */
export function parseFstab(text: string): FstabEntry[] {
  const entries: FstabEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const fields = trimmed.split(/\s+/);
    if (fields.length < 2) return;
    entries.push({
      line: i + 1,
      text: raw,
      spec: (fields[0] ?? '').replace(/"/g, ''),
      file: (fields[1] ?? '').replace(/\\040/g, ' '),
      type: fields[2] ?? 'auto',
      options: (fields[3] ?? 'defaults').split(','),
    });
  });
  return entries;
}

/** File system types that name no block device (kernel pseudo file systems). */
export const pseudoFileSystems: ReadonlySet<string> = new Set([
  'proc', 'sysfs', 'tmpfs', 'devpts', 'devtmpfs', 'cgroup', 'cgroup2', 'debugfs', 'securityfs', 'efivarfs', 'autofs', 'mqueue',
  'hugetlbfs', 'tracefs', 'configfs', 'fusectl', 'pstore', 'bpf', 'binfmt_misc', 'overlay', 'ramfs', 'none',
]);

/** Whether a file system type is reached over the network (never a local device). */
export function isNetworkFileSystem(type: string): boolean {
  return /^(nfs4?|cifs|smb3?|smbfs|sshfs|fuse\..*|fuse|9p|glusterfs|ceph|davfs|afs|lustre|beegfs)$/.test(type);
}

/** One block device of `blkid -o export`. */
export interface BlkidDevice {
  readonly devname: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** Parses `blkid -c /dev/null -o export` (blocks of `KEY=value` lines separated by a blank line). */
export function parseBlkidExport(text: string): BlkidDevice[] {
  const devices: BlkidDevice[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const tags: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (m) tags[m[1] as string] = (m[2] as string).replace(/\\(.)/g, '$1');
    }
    if (tags.DEVNAME) devices.push({ devname: tags.DEVNAME, tags });
  }
  return devices;
}

/**
 * The tag an fstab spec names (`UUID=...`, `/dev/disk/by-label/...`), or null for a plain device
 * path or anything else.
 */
export function specTag(spec: string): { key: 'UUID' | 'LABEL' | 'PARTUUID' | 'PARTLABEL'; value: string } | null {
  const clean = spec.replace(/"/g, '');
  const tagged = /^(UUID|LABEL|PARTUUID|PARTLABEL)=(.+)$/.exec(clean);
  if (tagged) return { key: tagged[1] as 'UUID', value: tagged[2] as string };
  const byPath = /^\/dev\/disk\/by-(uuid|label|partuuid|partlabel)\/(.+)$/.exec(clean);
  if (byPath) return { key: (byPath[1] as string).toUpperCase() as 'UUID', value: (byPath[2] as string).replace(/\\x2f/g, '/') };
  return null;
}

/** Whether a device with this tag exists (UUIDs compared without case). */
export function hasTag(devices: readonly BlkidDevice[], key: string, value: string): boolean {
  const uuid = key === 'UUID' || key === 'PARTUUID';
  return devices.some((d) => {
    const v = d.tags[key];
    return v !== undefined && (uuid ? v.toLowerCase() === value.toLowerCase() : v === value);
  });
}

/** One file system of `df -B1 --output=target,size,used,avail,itotal,iused,iavail`. */
export interface DfEntry {
  readonly target: string;
  readonly sizeBytes: number;
  readonly usedBytes: number;
  readonly availBytes: number;
  readonly inodes: number;
  readonly inodesUsed: number;
  readonly inodesFree: number;
}

/** Parses df's `--output=target,size,used,avail,itotal,iused,iavail` (the header line skipped). */
export function parseDf(text: string): DfEntry[] {
  const entries: DfEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 7) continue;
    const numbers = fields.slice(-6).map((f) => (f === '-' ? 0 : Number(f)));
    if (numbers.some((n) => !Number.isFinite(n))) continue;
    const [sizeBytes, usedBytes, availBytes, inodes, inodesUsed, inodesFree] = numbers as [number, number, number, number, number, number];
    entries.push({ target: fields.slice(0, -6).join(' '), sizeBytes, usedBytes, availBytes, inodes, inodesUsed, inodesFree });
  }
  return entries;
}

/** One complaint of `sshd -t` that names a file and line. */
export interface SshdComplaint {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/** The `FILE line N: message` complaints of `sshd -t` (`FILE: line N:` too). */
export function parseSshdTest(output: string): SshdComplaint[] {
  const complaints: SshdComplaint[] = [];
  for (const raw of output.split('\n')) {
    const m = /^(\/\S+?):? line (\d+): (.+)$/.exec(raw.trim());
    if (m) complaints.push({ file: m[1] as string, line: Number(m[2]), message: m[3] as string });
  }
  return complaints;
}

/** A shell-style glob (`*`, `?`, `[...]`) as a regular expression matching a whole name. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) source += '\\[';
      else {
        source += `[${glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else source += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** A configuration line in the order sshd reads it (includes expanded), with where it comes from. */
export interface ConfigLine {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

/** sshd's effective global settings that the doctor needs (first value wins, as in sshd; `Match` blocks aside). */
export interface SshdSettings {
  readonly ports: number[];
  /** `PermitRootLogin` as sshd will use it (default `prohibit-password`). */
  readonly permitRootLogin: string;
  /** `AuthorizedKeysFile` patterns (default `.ssh/authorized_keys .ssh/authorized_keys2`). */
  readonly authorizedKeysFiles: string[];
}

/** Reads the settings from sshd's configuration lines (see {@link ConfigLine}); `Port` may repeat. */
export function sshdSettings(lines: readonly ConfigLine[]): SshdSettings {
  const ports: number[] = [];
  let permitRootLogin: string | undefined;
  let authorizedKeysFiles: string[] | undefined;
  for (const { text } of lines) {
    const m = /^\s*(\w+)\s*(?:=\s*|\s+)(.*?)\s*$/.exec(text.replace(/#.*$/, ''));
    if (!m) continue;
    const key = (m[1] as string).toLowerCase();
    const value = m[2] as string;
    if (key === 'match') break;
    if (key === 'port' && /^\d+$/.test(value)) ports.push(Number(value));
    else if (key === 'permitrootlogin' && permitRootLogin === undefined) permitRootLogin = value.toLowerCase();
    else if (key === 'authorizedkeysfile' && authorizedKeysFiles === undefined) authorizedKeysFiles = value.split(/\s+/);
  }
  return {
    ports: ports.length > 0 ? [...new Set(ports)] : [22],
    permitRootLogin: permitRootLogin ?? 'prohibit-password',
    authorizedKeysFiles: authorizedKeysFiles ?? ['.ssh/authorized_keys', '.ssh/authorized_keys2'],
  };
}

/** The path (or glob) of an `Include` line of sshd_config, relative ones under /etc/ssh; else null. */
export function sshdInclude(text: string): string[] | null {
  const m = /^\s*include\s+(.+?)\s*$/i.exec(text.replace(/#.*$/, ''));
  if (!m) return null;
  return (m[1] as string).split(/\s+/).map((p) => (p.startsWith('/') ? p : `/etc/ssh/${p}`));
}

/** Whether a port expression of a firewall rule (`22`, `ssh`, `{ 22, 80 }`, `20-30`, `22,80`, `20:30`) covers `port`. */
export function portExpressionCovers(expression: string, port: number): boolean {
  const names: Record<string, number> = { ssh: 22 };
  for (const part of expression.replace(/[{}]/g, ' ').split(/[\s,]+/)) {
    if (part === '') continue;
    const range = /^(\w+)[-:](\w+)$/.exec(part);
    const value = (v: string): number => (/^\d+$/.test(v) ? Number(v) : (names[v] ?? -1));
    if (range) {
      if (value(range[1] as string) <= port && port <= value(range[2] as string)) return true;
    } else if (value(part) === port) return true;
  }
  return false;
}

/** What a firewall does to new SSH connections, with the line that decides it. */
export interface FirewallVerdict {
  readonly blocked: boolean;
  /** The deciding line (a rule, or the policy), if any. */
  readonly file?: string;
  readonly line?: number;
  readonly text?: string;
}

/** A line of a ruleset with its origin (includes expanded). */
export type RulesetLine = ConfigLine;

/**
 * Reads an nftables ruleset (`nft -f` syntax, includes already expanded into `lines`): for each base
 * chain hooked on `input`, the first rule that decides a new TCP connection to `port` from anywhere
 * (a rule naming the port, or a bare verdict), else the chain's policy. Rules restricted otherwise
 * (`iif lo`, `ct state`, `ip saddr`, another port) are not a decision: an SSH port open to some
 * addresses only is taken as wanted.
 */
export function nftablesVerdict(lines: readonly RulesetLine[], port: number): FirewallVerdict {
  interface Chain { hook: string | null; policy: { value: string; at: RulesetLine } | null; rules: RulesetLine[] }
  const chains = new Map<string, Chain>();
  const stack: string[] = [];
  let tableName = '';
  const chainOf = (key: string): Chain => {
    let chain = chains.get(key);
    if (!chain) {
      chain = { hook: null, policy: null, rules: [] };
      chains.set(key, chain);
    }
    return chain;
  };
  const describe = (line: RulesetLine, text: string, chain: Chain): void => {
    for (const statement of text.split(';')) {
      const s = statement.trim();
      if (s === '') continue;
      const hook = /\btype\s+filter\s+hook\s+(\w+)/.exec(s);
      if (hook) chain.hook = hook[1] as string;
      const policy = /\bpolicy\s+(accept|drop)\b/.exec(s);
      if (policy) chain.policy = { value: policy[1] as string, at: line };
      if (!hook && !policy && !/^(comment|counter)\b/.test(s)) chain.rules.push({ ...line, text: s });
    }
  };
  for (const line of lines) {
    const text = line.text.replace(/#.*$/, '').trim();
    if (text === '') continue;
    const add = /^(?:add|insert)\s+rule\s+(?:(?:ip|ip6|inet|arp|bridge|netdev)\s+)?(\S+)\s+(\S+)\s+(.*)$/.exec(text);
    if (add) {
      chainOf(`${add[1]}/${add[2]}`).rules.push({ ...line, text: add[3] as string });
      continue;
    }
    const addChain = /^(?:add|create)\s+chain\s+(?:(?:ip|ip6|inet|arp|bridge|netdev)\s+)?(\S+)\s+(\S+)\s*\{?(.*?)\}?\s*$/.exec(text);
    if (addChain) {
      describe(line, addChain[3] as string, chainOf(`${addChain[1]}/${addChain[2]}`));
      continue;
    }
    const table = /^table\s+(?:(?:ip|ip6|inet|arp|bridge|netdev)\s+)?(\S+)\s*\{/.exec(text);
    if (table) {
      tableName = table[1] as string;
      stack.push('table');
      continue;
    }
    const chain = /^chain\s+(\S+)\s*\{(.*)$/.exec(text);
    if (chain) {
      stack.push(`chain:${tableName}/${chain[1]}`);
      const rest = (chain[2] as string).trim();
      if (rest.endsWith('}')) {
        describe(line, rest.slice(0, -1), chainOf(`${tableName}/${chain[1]}`));
        stack.pop();
      } else if (rest !== '') describe(line, rest, chainOf(`${tableName}/${chain[1]}`));
      continue;
    }
    if (/^\}/.test(text)) {
      stack.pop();
      continue;
    }
    const top = stack.at(-1);
    if (top?.startsWith('chain:')) {
      describe(line, text, chainOf(top.slice('chain:'.length)));
      continue;
    }
    if (/\{\s*$/.test(text)) stack.push('block');
  }
  for (const chain of chains.values()) {
    if (chain.hook !== 'input') continue;
    const verdict = decideNftChain(chain.rules, port);
    if (verdict) {
      if (verdict.blocked) return verdict;
      continue;
    }
    if (chain.policy?.value === 'drop') return { blocked: true, file: chain.policy.at.file, line: chain.policy.at.line, text: chain.policy.at.text.trim() };
  }
  return { blocked: false };
}

function decideNftChain(rules: readonly RulesetLine[], port: number): FirewallVerdict | null {
  for (const rule of rules) {
    const verdict = /\b(accept|drop|reject)\b/.exec(rule.text)?.[1];
    if (!verdict) continue;
    const dport = /\b(?:tcp|th)\s+dport\s+(!=\s*)?(\{[^}]*\}|\S+)/.exec(rule.text);
    const restricted = /\b(iif|iifname|saddr|ct\s+state|ct\s+status|meta\s+l4proto|udp|icmp|icmpv6|ip6?\s+protocol|mark|limit)\b/.test(rule.text);
    let decides: boolean;
    if (dport) decides = dport[1] === undefined && portExpressionCovers(dport[2] as string, port) && !/\b(iif|iifname|saddr|ct\s+state)\b/.test(rule.text);
    else decides = !restricted && !/\bdport\b/.test(rule.text);
    if (!decides) continue;
    return { blocked: verdict !== 'accept', file: rule.file, line: rule.line, text: rule.text.trim() };
  }
  return null;
}

/**
 * Reads iptables-save rules (`/etc/iptables/rules.v4`): in the `*filter` table's INPUT chain, the
 * first rule deciding a new TCP connection to `port` from anywhere, else the chain's policy (same
 * rules of thumb as {@link nftablesVerdict}).
 */
export function iptablesVerdict(file: string, text: string, port: number): FirewallVerdict {
  let table = '';
  let policy: { value: string; line: number; text: string } | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const t = raw.trim();
    if (t.startsWith('*')) {
      table = t.slice(1);
      continue;
    }
    if (table !== 'filter') continue;
    const chainPolicy = /^:INPUT\s+(ACCEPT|DROP)\b/.exec(t);
    if (chainPolicy) {
      policy = { value: chainPolicy[1] as string, line: i + 1, text: t };
      continue;
    }
    if (!/^-[AI]\s+INPUT\b/.test(t)) continue;
    const target = /\s-j\s+(ACCEPT|DROP|REJECT)\b/.exec(t)?.[1];
    if (!target) continue;
    const dport = /--(?:dport|destination-port|dports|destination-ports)\s+(!\s*)?(\S+)/.exec(t);
    const negated = /\s!\s+--d(?:estination-)?ports?\b/.test(t) || Boolean(dport?.[1]);
    const proto = /\s-p\s+(\S+)/.exec(t)?.[1];
    const restricted = /\s(-s|--source|-i|--in-interface)\s|--(ctstate|state)\s/.test(t);
    let decides: boolean;
    if (dport) decides = !negated && (proto === undefined || proto === 'tcp' || proto === 'all') && !restricted && portExpressionCovers(dport[2] as string, port);
    else decides = !restricted && (proto === undefined || proto === 'tcp' || proto === 'all') && !/\s-m\s+(icmp|udp|limit|recent)\b/.test(t);
    if (decides) return { blocked: target !== 'ACCEPT', file, line: i + 1, text: t };
  }
  if (policy?.value === 'DROP') return { blocked: true, file, line: policy.line, text: policy.text };
  return { blocked: false };
}

/**
 * Reads ufw's saved state: `ufw.conf` (ENABLED), `/etc/default/ufw` (DEFAULT_INPUT_POLICY) and
 * `user.rules` (its `### tuple ###` lines, first match wins). Blocked when enabled and either a
 * deny/reject rule for the port comes first or no allow/limit rule for it exists under a DROP/REJECT policy.
 */
export function ufwVerdict(
  files: { conf: { file: string; text: string }; defaults: { file: string; text: string } | null; userRules: { file: string; text: string } | null },
  port: number,
): FirewallVerdict & { enabled: boolean } {
  const enabledLine = files.conf.text.split('\n').findIndex((l) => /^\s*ENABLED\s*=\s*"?yes"?\s*$/i.test(l));
  if (enabledLine < 0) return { blocked: false, enabled: false };
  if (files.userRules) {
    const lines = files.userRules.text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const m = /^### tuple ### (allow|deny|reject|limit)(?:_log(?:-all)?)? (\S+) (\S+) (\S+) (\S+) (\S+) (in|out)\b/.exec((lines[i] as string).trim());
      if (!m || m[7] !== 'in') continue;
      const [, action, proto, dport, , , src] = m as unknown as [string, string, string, string, string, string, string];
      if (proto !== 'tcp' && proto !== 'any') continue;
      if (dport !== 'any' && !portExpressionCovers(dport, port)) continue;
      if (src !== '0.0.0.0/0' && src !== '::/0' && src !== 'any') continue;
      return { blocked: action === 'deny' || action === 'reject', enabled: true, file: files.userRules.file, line: i + 1, text: (lines[i] as string).trim() };
    }
  }
  const defaults = files.defaults?.text.split('\n') ?? [];
  const policyIndex = defaults.findIndex((l) => /^\s*DEFAULT_INPUT_POLICY\s*=/.test(l));
  const policy = policyIndex >= 0 ? /=\s*"?(\w+)"?/.exec(defaults[policyIndex] as string)?.[1]?.toUpperCase() : 'DROP';
  if (policy === 'DROP' || policy === 'REJECT') {
    return policyIndex >= 0 && files.defaults
      ? { blocked: true, enabled: true, file: files.defaults.file, line: policyIndex + 1, text: (defaults[policyIndex] as string).trim() }
      : { blocked: true, enabled: true, file: files.conf.file, line: enabledLine + 1, text: (files.conf.text.split('\n')[enabledLine] as string).trim() };
  }
  return { blocked: false, enabled: true };
}

/** The interfaces a configuration names (exact names or globs), with where. */
export interface NamedInterface {
  /** A name or a glob (`en*`). */
  readonly name: string;
  readonly file: string;
  readonly line: number;
  readonly text: string;
  /** A MAC address matched instead of (or beside) the name. */
  readonly mac?: string;
}

/** `[Match] Name=` (and `MACAddress=`) of a systemd-networkd `.network` file; null when it matches every link. */
export function networkdNames(file: string, text: string): NamedInterface[] | null {
  const names: NamedInterface[] = [];
  let section = '';
  let mac: string | undefined;
  let typeOnly = false;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const t = (lines[i] as string).trim();
    const header = /^\[(\w+)\]$/.exec(t);
    if (header) {
      section = header[1] as string;
      continue;
    }
    if (section !== 'Match') continue;
    const kv = /^(\w+)\s*=\s*(.*)$/.exec(t);
    if (!kv) continue;
    if (kv[1] === 'Name') {
      for (const name of (kv[2] as string).split(/\s+/).filter((n) => n !== '' && !n.startsWith('!'))) names.push({ name, file, line: i + 1, text: t });
    } else if (kv[1] === 'MACAddress' || kv[1] === 'PermanentMACAddress') mac = (kv[2] as string).split(/\s+/)[0]?.toLowerCase();
    else if (kv[1] === 'Type' || kv[1] === 'Driver' || kv[1] === 'Path') typeOnly = true;
  }
  if (names.length === 0) {
    if (mac !== undefined) return [{ name: '*', file, line: 1, text: `MACAddress=${mac}`, mac }];
    return typeOnly ? null : null;
  }
  return mac === undefined ? names : names.map((n) => ({ ...n, mac }));
}

/** The interfaces ifupdown brings up (`auto`, `allow-hotplug`, `iface`), `lo` aside; also its `source` lines. */
export function ifupdownNames(file: string, text: string): { names: NamedInterface[]; sources: string[] } {
  const names: NamedInterface[] = [];
  const sources: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const t = (lines[i] as string).replace(/#.*$/, '').trim();
    const source = /^source(?:-directory)?\s+(\S+)/.exec(t);
    if (source) {
      sources.push(t.startsWith('source-directory') ? `${source[1]}/*` : (source[1] as string));
      continue;
    }
    const m = /^(auto|allow-hotplug|allow-auto|iface)\s+(.+)$/.exec(t);
    if (!m) continue;
    const ifaces = m[1] === 'iface' ? [(m[2] as string).split(/\s+/)[0] as string] : (m[2] as string).split(/\s+/);
    for (const raw of ifaces) {
      const name = raw.replace(/[:.].*$/, '');
      if (name === 'lo' || name === '' || names.some((n) => n.name === name && n.line === i + 1)) continue;
      names.push({ name, file, line: i + 1, text: (lines[i] as string).trim() });
    }
  }
  return { names, sources };
}

/**
 * The ethernets of a netplan file (`network: ethernets: NAME:`), by key, or by `match: name:` /
 * `macaddress:` when the entry has a `match` block. Indentation-based: enough for netplan's usual files.
 */
export function netplanNames(file: string, text: string): NamedInterface[] {
  const names: NamedInterface[] = [];
  const lines = text.split('\n');
  let ethernetsIndent = -1;
  let entryIndent = -1;
  let current: { name: string; line: number; text: string; match: boolean; matchName?: NamedInterface; mac?: string } | null = null;
  const flush = (): void => {
    if (!current) return;
    if (!current.match) names.push({ name: current.name, file, line: current.line, text: current.text });
    else if (current.matchName) names.push(current.mac ? { ...current.matchName, mac: current.mac } : current.matchName);
    else if (current.mac) names.push({ name: '*', file, line: current.line, text: current.text, mac: current.mac });
    current = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).replace(/\s+#.*$/, '');
    if (raw.trim() === '' || raw.trim().startsWith('#')) continue;
    const indent = raw.length - raw.trimStart().length;
    const t = raw.trim();
    if (ethernetsIndent >= 0 && indent <= ethernetsIndent) {
      flush();
      ethernetsIndent = -1;
    }
    if (ethernetsIndent < 0) {
      if (/^ethernets:\s*$/.test(t)) {
        ethernetsIndent = indent;
        entryIndent = -1;
      }
      continue;
    }
    if (entryIndent < 0) entryIndent = indent;
    if (indent === entryIndent) {
      flush();
      const key = /^["']?([^"':]+)["']?:/.exec(t);
      if (key) current = { name: key[1] as string, line: i + 1, text: t, match: false };
      continue;
    }
    if (!current) continue;
    if (/^match:/.test(t)) current.match = true;
    const name = /^name:\s*["']?([^"'\s]+)["']?/.exec(t);
    if (name && current.match) current.matchName = { name: name[1] as string, file, line: i + 1, text: t };
    const mac = /^macaddress:\s*["']?([0-9a-fA-F:]{17})["']?/.exec(t);
    if (mac && current.match) current.mac = (mac[1] as string).toLowerCase();
  }
  flush();
  return names;
}

/** The default entry of a boot loader's configuration: kernel and initramfs paths as written, with their lines. */
export interface BootEntry {
  readonly file: string;
  readonly label: string;
  readonly kernel: { path: string; line: number; text: string } | null;
  readonly initrds: { path: string; line: number; text: string }[];
}

/** extlinux/syslinux: the `DEFAULT` label's entry (else the first `LABEL`). */
export function extlinuxDefault(file: string, text: string): BootEntry | null {
  const lines = text.split('\n');
  let wanted: string | null = null;
  const entries: { label: string; kernel: BootEntry['kernel']; initrds: BootEntry['initrds'] }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const t = (lines[i] as string).trim();
    const m = /^(\w+)\s+(.*)$/.exec(t);
    if (!m || t.startsWith('#')) continue;
    const key = (m[1] as string).toUpperCase();
    const value = (m[2] as string).trim();
    if (key === 'DEFAULT' && entries.length === 0) wanted = value.split(/\s+/)[0] ?? null;
    else if (key === 'LABEL') entries.push({ label: value, kernel: null, initrds: [] });
    else if ((key === 'LINUX' || key === 'KERNEL') && entries.length > 0) (entries.at(-1) as (typeof entries)[number]).kernel = { path: value.split(/\s+/)[0] as string, line: i + 1, text: t };
    else if (key === 'INITRD' && entries.length > 0) {
      for (const path of value.split(',')) (entries.at(-1) as (typeof entries)[number]).initrds.push({ path: path.trim(), line: i + 1, text: t });
    } else if (key === 'APPEND' && entries.length > 0) {
      const initrd = /(?:^|\s)initrd=(\S+)/.exec(value);
      if (initrd) for (const path of (initrd[1] as string).split(',')) (entries.at(-1) as (typeof entries)[number]).initrds.push({ path, line: i + 1, text: t });
    }
  }
  const entry = (wanted !== null ? entries.find((e) => e.label === wanted) : undefined) ?? entries[0];
  return entry ? { file, ...entry } : null;
}

/**
 * GRUB: the default top-level `menuentry` of grub.cfg (`set default=N`, a title, or `saved` with the
 * `saved_entry` of grubenv), with its `linux` and `initrd` lines.
 */
export function grubDefault(file: string, text: string, grubenv: string | null): BootEntry | null {
  const lines = text.split('\n');
  let defaultValue = '0';
  const entries: { label: string; id: string | null; kernel: BootEntry['kernel']; initrds: BootEntry['initrds'] }[] = [];
  let depth = 0;
  let inEntry = -1;
  for (let i = 0; i < lines.length; i++) {
    const t = (lines[i] as string).trim();
    if (t.startsWith('#')) continue;
    const def = /^set\s+default\s*=\s*["']?([^"']*)["']?/.exec(t);
    if (def && depth === 0) defaultValue = def[1] as string;
    const menu = /^(menuentry|submenu)\s+(['"])(.*?)\2(.*)\{\s*$/.exec(t);
    if (menu) {
      if (menu[1] === 'menuentry' && depth === 0) {
        const id = /\$menuentry_id_option\s+['"]([^'"]+)['"]/.exec(menu[4] as string)?.[1] ?? null;
        entries.push({ label: menu[3] as string, id, kernel: null, initrds: [] });
        inEntry = entries.length - 1;
      } else if (depth === 0) entries.push({ label: menu[3] as string, id: null, kernel: null, initrds: [] });
      depth++;
      continue;
    }
    if (/\{\s*$/.test(t) && !/^(if|for|while|function)\b/.test(t)) {
      depth++;
      continue;
    }
    if (/^(if|for|while|function)\b.*\{?\s*$/.test(t)) continue;
    if (t === '}') {
      depth = Math.max(0, depth - 1);
      if (depth === 0) inEntry = -1;
      continue;
    }
    if (inEntry >= 0 && depth === 1) {
      const entry = entries[inEntry] as (typeof entries)[number];
      const linux = /^linux(?:16|efi)?\s+(\S+)/.exec(t);
      if (linux) entry.kernel = { path: linux[1] as string, line: i + 1, text: t };
      const initrd = /^initrd(?:16|efi)?\s+(.+)$/.exec(t);
      if (initrd) for (const path of (initrd[1] as string).split(/\s+/)) entry.initrds.push({ path, line: i + 1, text: t });
    }
  }
  if (defaultValue === 'saved' || defaultValue === '${saved_entry}') defaultValue = /^saved_entry=(.*)$/m.exec(grubenv ?? '')?.[1]?.trim() ?? '0';
  const first = defaultValue.split('>')[0] ?? '0';
  const entry = /^\d+$/.test(first) ? entries[Number(first)] : entries.find((e) => e.label === first || e.id === first);
  // A submenu as the default boots its own first entry, which this reader does not follow: the first entry stands in.
  const chosen = entry && (entry.kernel || entry.initrds.length > 0) ? entry : entries[0];
  return chosen && (chosen.kernel || chosen.initrds.length > 0) ? { file, label: chosen.label, kernel: chosen.kernel, initrds: chosen.initrds } : null;
}

/** root's line of /etc/shadow: its password field and line number, or null. */
export function shadowEntry(text: string, user = 'root'): { password: string; line: number; text: string } | null {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const fields = (lines[i] as string).split(':');
    if (fields[0] === user && fields.length >= 2) return { password: fields[1] as string, line: i + 1, text: `${user}:${passwordShape(fields[1] as string)}:…` };
  }
  return null;
}

/** What a shadow password field is, never the hash itself (evidence must not carry it). */
export function passwordShape(field: string): string {
  if (field === '') return '(empty: no password)';
  if (field.startsWith('!') || field === '*') return `${field.startsWith('!') ? '!' : '*'} (locked)`;
  return '(a password hash)';
}

/** Whether a shadow password field locks password login (`!…`, `*`, or not a hash at all). */
export function passwordLocked(field: string): boolean {
  return field.startsWith('!') || field.startsWith('*') || (field !== '' && !field.startsWith('$') && field.length < 13);
}

/** The keys of an authorized_keys file (comments and blank lines aside). */
export function authorizedKeyCount(text: string): number {
  return text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#')).length;
}

/** journalctl's `-o short` lines reduced to their message (time and host aside), for counting distinct ones. */
export function summariseJournal(output: string, first = 10): { count: number; distinct: string[] } {
  const lines = output.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('-- '));
  const seen = new Set<string>();
  const distinct: string[] = [];
  for (const line of lines) {
    const message = line.replace(/^\w{3} \d{1,2} [\d:]{8} \S+ /, '').replace(/\[\d+\]/, '');
    if (seen.has(message)) continue;
    seen.add(message);
    if (distinct.length < first) distinct.push(line);
  }
  return { count: lines.length, distinct };
}
