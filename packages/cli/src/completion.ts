/**
 * `lifeboat completion bash|zsh`: a completion script generated from the command tree, so that a new
 * command or flag completes without editing it. zsh loads the bash function through `bashcompinit`.
 */
import type { Command } from 'commander';

/** One node of the tree as completion sees it: the words that may follow a command path. */
export interface CompletionNode {
  /** The command path, e.g. `rescue enter` (`` for the program itself). */
  readonly path: string;
  /** Subcommand names, then flags. */
  readonly words: readonly string[];
}

/** Every command path with the words that may follow it; `extra` adds subcommands commander does not hold (the deployables' own). */
export function completionTree(program: Command, extra: Readonly<Record<string, readonly string[]>> = {}): CompletionNode[] {
  const nodes: CompletionNode[] = [];
  const visit = (command: Command, path: string) => {
    const subcommands = command.commands.map((c) => c.name());
    const flags = command.options.map((o) => o.long ?? o.short).filter((f): f is string => f !== undefined);
    const help = path === '' || subcommands.length > 0 || command.options.some((o) => o.long === '--help') ? [] : ['--help'];
    nodes.push({ path, words: [...subcommands, ...(extra[path] ?? []), ...flags, ...help] });
    for (const sub of command.commands) visit(sub, path === '' ? sub.name() : `${path} ${sub.name()}`);
    for (const name of extra[path] ?? []) nodes.push({ path: `${path} ${name}`, words: ['--help'] });
  };
  visit(program, '');
  return nodes;
}

const quote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/** The bash completion script (`source <(lifeboat completion bash)`). */
export function bashCompletion(program: Command, extra: Readonly<Record<string, readonly string[]>> = {}): string {
  const name = program.name();
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, '_')}_complete`;
  const nodes = completionTree(program, extra);
  const paths = nodes.filter((n) => n.path !== '').map((n) => quote(n.path));
  return [
    `# bash completion for ${name}, generated from its command tree: source <(${name} completion bash)`,
    `${fn}() {`,
    '  local cur="${COMP_WORDS[COMP_CWORD]}" path="" next word i',
    '  for ((i = 1; i < COMP_CWORD; i++)); do',
    '    word="${COMP_WORDS[i]}"',
    '    next="${path:+$path }$word"',
    '    case "$next" in',
    `      ${paths.join('|')}) path="$next" ;;`,
    '    esac',
    '  done',
    '  local words=""',
    '  case "$path" in',
    ...nodes.map((n) => `    ${quote(n.path)}) words=${quote(n.words.join(' '))} ;;`),
    '  esac',
    '  COMPREPLY=($(compgen -W "$words" -- "$cur"))',
    '}',
    `complete -o default -F ${fn} ${name}`,
    '',
  ].join('\n');
}

/** The zsh completion script (`source <(lifeboat completion zsh)`): the bash function through bashcompinit. */
export function zshCompletion(program: Command, extra: Readonly<Record<string, readonly string[]>> = {}): string {
  return [
    `# zsh completion for ${program.name()}, generated from its command tree: source <(${program.name()} completion zsh)`,
    'autoload -U +X compinit && compinit',
    'autoload -U +X bashcompinit && bashcompinit',
    bashCompletion(program, extra),
  ].join('\n');
}
