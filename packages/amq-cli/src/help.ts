import { type Command, HELP_FLAG } from './command';
import type { Style } from './style';

const INDENT = '  ';

/** `teal-amq <command> --help`: usage, details, flags, examples. */
export function commandHelp(command: Command, style: Style): string {
  const flags = Object.entries({ ...command.flags, ...HELP_FLAG }).map(([name, flag]) => {
    const left = `${flag.short === undefined ? '    ' : `-${flag.short}, `}--${name}${flag.value === undefined ? '' : ` ${flag.value}`}`;
    return [left, flag.description] as const;
  });
  const width = Math.min(30, Math.max(...flags.map(([left]) => left.length)) + 2);
  return [
    `${style.bold(`teal-amq ${command.name}`)}: ${command.summary}`,
    '',
    style.bold('Usage'),
    ...command.usage.map((line) => `${INDENT}${line}`),
    ...(command.details ?? []).flatMap((paragraph) => ['', ...wrap(paragraph, 80)]),
    '',
    style.bold('Options'),
    ...flags.map(([left, description]) =>
      left.length + 2 > width
        ? `${INDENT}${left}\n${INDENT}${' '.repeat(width)}${description}`
        : `${INDENT}${left.padEnd(width)}${description}`,
    ),
    '',
    style.bold('Examples'),
    ...command.examples.map((example) => `${INDENT}$ ${example}`),
    '',
  ].join('\n');
}

/** `teal-amq --help`: the commands, settings, exit codes and examples. */
export function mainHelp(commands: readonly Command[], version: string, style: Style): string {
  const width = Math.max(...commands.map((command) => command.name.length)) + 3;
  return [
    `${style.bold('teal-amq')} ${version}: send, listen, wait for, check and measure TeaL AMQ messages on any broker`,
    '',
    style.bold('Usage'),
    `${INDENT}teal-amq <command> [options]`,
    `${INDENT}teal-amq <command> --help`,
    '',
    style.bold('Commands'),
    ...commands.map((command) => `${INDENT}${command.name.padEnd(width)}${command.summary}`),
    '',
    style.bold('Settings'),
    `${INDENT}AMQP_URL              the broker URL; its scheme picks the adapter: memory://, amqp://, redis://,`,
    `${INDENT}                      nats://, postgres:// (the adapter package must be installed). --amqp-url overrides it`,
    `${INDENT}AMQP_EXCHANGE_PREFIX  prepended to every exchange name. --exchange-prefix overrides it`,
    `${INDENT}NO_COLOR              any value turns colours off (they are only ever on for a terminal)`,
    '',
    style.bold('Exit codes'),
    `${INDENT}0 done · 1 broker error or failed check · 2 wait timed out · 64 usage error · 65 invalid message · 130 interrupted`,
    '',
    style.bold('Examples'),
    `${INDENT}$ export AMQP_URL=amqp://guest:guest@localhost:5672`,
    `${INDENT}$ teal-amq doctor`,
    `${INDENT}$ teal-amq listen callback b1f3c9 &`,
    `${INDENT}$ teal-amq send callback --state b1f3c9 --url 'https://app.test/callback?state=b1f3c9&code=42'`,
    `${INDENT}$ teal-amq wait powens example.biapi.pro --timeout 2m || echo "no webhook ($?)"`,
    '',
    `${INDENT}-h, --help     show this help`,
    `${INDENT}-V, --version  print the version`,
    '',
  ].join('\n');
}

/** Words of a paragraph on lines of at most `width` characters, indented. */
function wrap(paragraph: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of paragraph.split(' ')) {
    if (line !== '' && INDENT.length + line.length + 1 + word.length > width) {
      lines.push(`${INDENT}${line}`);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(`${INDENT}${line}`);
  return lines;
}
