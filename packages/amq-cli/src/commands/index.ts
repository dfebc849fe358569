import type { Command } from '../command';
import { benchCommand } from './bench';
import { completeCommands, completionCommand } from './completion';
import { doctorCommand } from './doctor';
import { listenCommand } from './listen';
import { sendCommand } from './send';
import { waitCommand } from './wait';

/** Every command, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  sendCommand,
  listenCommand,
  waitCommand,
  doctorCommand,
  benchCommand,
  completionCommand,
];

completeCommands(COMMANDS);
