import type { Command, ParsedArgs } from '../command';
import { HELP_FLAG } from '../command';
import { type CliIo, EXIT, usageError } from '../io';

/** The commands a shell completes; set by `commands/index.ts`, which knows them all. */
let known: readonly Command[] = [];

export function completeCommands(commands: readonly Command[]): void {
  known = commands;
}

export const completionCommand: Command = {
  name: 'completion',
  summary: 'print the shell completion script for bash or zsh',
  usage: ['teal-amq completion bash|zsh'],
  details: [
    'Completes commands, their flags, kinds and the words a flag takes; file names after flags that take @file.',
  ],
  positionals: ['bash', 'zsh'],
  flags: {},
  examples: [
    'source <(teal-amq completion bash)                      # in ~/.bashrc',
    'teal-amq completion zsh > ~/.zfunc/_teal-amq    # with fpath+=(~/.zfunc); autoload -U compinit && compinit in ~/.zshrc',
  ],
  run: async (parsed: ParsedArgs, io: CliIo) => {
    const shell = parsed.positionals[0];
    if (shell === 'bash') io.stdout.write(bashScript(known));
    else if (shell === 'zsh') io.stdout.write(zshScript(known));
    else
      throw usageError(
        `which shell? give bash or zsh${shell === undefined ? '' : `, not ${JSON.stringify(shell.slice(0, 20))}`}`,
        'completion',
      );
    return EXIT.ok;
  },
};

function flagsOf(command: Command): Array<[string, Command['flags'][string]]> {
  return Object.entries({ ...command.flags, ...HELP_FLAG });
}

/** Single-quoted for a shell: no expansion inside. */
function quote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

function bashScript(commands: readonly Command[]): string {
  const cases = commands.map((command) => {
    const flags = flagsOf(command).map(([name]) => `--${name}`);
    const values = flagsOf(command)
      .filter(([, flag]) => flag.complete !== undefined)
      .map(([name, flag]) =>
        flag.complete === 'file'
          ? `        --${name}) COMPREPLY=( $(compgen -f -- "\${cur#@}") ); COMPREPLY=( "\${COMPREPLY[@]/#/@}" ); return ;;`
          : `        --${name}) COMPREPLY=( $(compgen -W ${quote(flag.complete!.join(' '))} -- "$cur") ); return ;;`,
      );
    return [
      `    ${command.name})`,
      '      case "$prev" in',
      ...values,
      '      esac',
      `      if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W ${quote(flags.join(' '))} -- "$cur") ); return; fi`,
      `      [[ $cword -eq 2 ]] && COMPREPLY=( $(compgen -W ${quote((command.positionals ?? []).join(' '))} -- "$cur") )`,
      '      ;;',
    ].join('\n');
  });
  return `# bash completion for teal-amq: source <(teal-amq completion bash)
_teal_amq() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cword=$COMP_CWORD
  COMPREPLY=()
  if [[ $cword -eq 1 ]]; then
    COMPREPLY=( $(compgen -W ${quote([...commands.map((command) => command.name), '--help', '--version'].join(' '))} -- "$cur") )
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases.join('\n')}
  esac
}
complete -F _teal_amq teal-amq
`;
}

/** zsh's _arguments spec of a flag: `--name[description]:value:action`. */
function zshFlag(name: string, flag: Command['flags'][string]): string {
  const description = flag.description.replace(/[[\]:'\\]/g, ' ').slice(0, 90);
  if (flag.type === 'boolean') return `'--${name}[${description}]'`;
  const action =
    flag.complete === undefined
      ? ' '
      : flag.complete === 'file'
        ? '_files'
        : `(${flag.complete.join(' ')})`;
  return `'--${name}[${description}]:${(flag.value ?? 'value').replace(/[:|]/g, ' ')}:${action}'`;
}

function zshScript(commands: readonly Command[]): string {
  const list = commands.map(
    (command) => `    ${quote(`${command.name}:${command.summary.replace(/:/g, ' ')}`)}`,
  );
  const cases = commands.map((command) => {
    const specs = flagsOf(command).map(([name, flag]) => `        ${zshFlag(name, flag)}`);
    const first =
      command.positionals === undefined
        ? []
        : [`        '1:argument:(${command.positionals.join(' ')})'`];
    return [
      `    ${command.name})`,
      '      _arguments \\',
      ...[...specs, ...first, "        '*::argument: '"].map((line, i, all) =>
        i === all.length - 1 ? line : `${line} \\`,
      ),
      '      ;;',
    ].join('\n');
  });
  return `#compdef teal-amq
# zsh completion for teal-amq: teal-amq completion zsh > "\${fpath[1]}/_teal-amq"
_teal-amq() {
  local -a commands
  commands=(
${list.join('\n')}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local command=\${words[2]}
  shift words
  (( CURRENT-- ))
  case $command in
${cases.join('\n')}
  esac
}
# Autoloaded from $fpath, the file is the function's body: run it. Sourced, register it.
if [ "$funcstack[1]" = "_teal-amq" ]; then
  _teal-amq "$@"
else
  compdef _teal-amq teal-amq
fi
`;
}
