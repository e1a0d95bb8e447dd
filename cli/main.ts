// `npm run cli -- <command> [args]`: the ops and analyst CLI. Commands are
// listed in cli/commands.ts; `<command> --help` prints its usage. Commands
// report through the logger (lib/logger.ts); help and reports go to stdout.
import { loggerFor } from '../lib/logger.ts';
import { COMMANDS, commandList, usageOf } from './commands.ts';

const [command, ...args] = process.argv.slice(2);

if (!command || command === '--help' || command === '-h') {
  console.log(commandList());
  process.exit(0);
}
if (!Object.hasOwn(COMMANDS, command)) {
  console.error(`Unknown command: ${command}\n${commandList()}`);
  process.exit(2);
}
if (args.includes('--help') || args.includes('-h')) {
  console.log(usageOf(command));
  process.exit(0);
}
const mod = (await import(`./${command.replace(':', '__')}.ts`)) as {
  default: (args: string[]) => Promise<void> | void;
};
try {
  await mod.default(args);
} catch (err) {
  // What went wrong, as a log line (JSON, or pretty on a terminal); the stack only at LOG_LEVEL=debug.
  const log = loggerFor('cli').child({ command });
  log.debug({ err }, 'failed');
  log.error((err as Error).message);
  process.exit(1);
}
