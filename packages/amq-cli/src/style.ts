import type { OutputStream } from './io';

/** Colours for one output stream: plain text when they are off. */
export interface Style {
  readonly isColored: boolean;
  ok(text: string): string;
  fail(text: string): string;
  warn(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

/**
 * Colours only on a terminal, never with `NO_COLOR` set to anything
 * (no-color.org) nor on a `dumb` terminal. Five SGR codes need no library.
 */
export function styleFor(
  stream: OutputStream,
  env: Readonly<Record<string, string | undefined>>,
): Style {
  const isColored = stream.isTTY === true && (env.NO_COLOR ?? '') === '' && env.TERM !== 'dumb';
  const sgr = (open: number, close: number) => (text: string) =>
    isColored ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  return {
    isColored,
    ok: sgr(32, 39),
    fail: sgr(31, 39),
    warn: sgr(33, 39),
    dim: sgr(2, 22),
    bold: sgr(1, 22),
  };
}
