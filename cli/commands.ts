// The CLI's commands: the only modules `npm run cli -- <command>` runs, with
// the usage line and summary that `--help` and the command list print. A
// command `a:b` lives in cli/a__b.ts (a one-word command in cli/<word>.ts),
// whose default export receives the remaining arguments.

export interface Command {
  /** Arguments after the command's name. */
  args: string;
  summary: string;
}

export const COMMANDS: Record<string, Command> = {
  'db:migrate': { args: '', summary: 'Provision the database if needed and run the committed migrations.' },
  'db:reset': { args: '', summary: 'Drop and rebuild the development database, including migrations/current.sql.' },
  'db:schema': {
    args: '',
    summary: 'Rewrite data/schema.sql and data/schema.graphql from a fresh migrate (commit them with the change).',
  },
  'db:gm': {
    args: '<graphile-migrate arguments>',
    summary: "graphile-migrate with this project's connection strings (status, commit, watch).",
  },
  'seed:generate': {
    args: '[--count N] [--out FILE] [--seed S]',
    summary: 'Write deterministic demo parking meters as a CSV (sql/seed/nyc_parking_meters.csv by default).',
  },
  'passwords:generate': {
    args: '[--top N]',
    summary:
      'Rewrite migrations/fixtures/common_passwords.sql, the common passwords sign-up refuses (the N most common, 100000).',
  },
  'spots:import': {
    args: 'FILE [--batch-size N] [--show N]',
    summary:
      'Upsert spots from a CSV in the layout of NYC "Parking Meters Locations and Status" plus Hourly_Rate; ' +
      'prints inserted / updated / unchanged / rejected. --batch-size: rows per SQL call (1000); --show: reject reasons printed (20).',
  },
  report: {
    args: 'NAME --from YYYY-MM-DD --to YYYY-MM-DD [--format table|csv]',
    summary:
      'Run an analyst report of sql/reports/ for [from, to): occupancy_by_hour, revenue_by_day_and_rate, booking_funnel, stays_by_day.',
  },
  'user:create': {
    args: '--email <email> --role driver|operator|admin|analyst|enforcement [--name <name>] [--invite | --password-stdin]',
    summary: 'Create a user with a role: a password prompt on a terminal, else an emailed invitation.',
  },
};

export function usageOf(name: string): string {
  const command = COMMANDS[name];
  return `Usage: npm run cli -- ${name}${command.args ? ` ${command.args}` : ''}\n${command.summary}`;
}

export function commandList(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: npm run cli -- <command> [args]   (<command> --help for its arguments)\nCommands:\n${lines.join('\n')}`;
}
