// `npm run cli -- user:create --email ops@example.com --role operator [--name "Olive Op"]`
// Creates a user with a role (pre-registration of staff). On a terminal it
// asks for a password (typed twice, not echoed) and the account is ready and
// verified; elsewhere (or with --invite) it emails an invitation link valid
// 7 days through the outbox. `--password-stdin` reads the password from the
// first line of standard input (scripts). Rules live in
// app_private.user_create (migrations/fixtures/accounts_staff.sql).
import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { dbUrls } from '../lib/db_urls.ts';
import { usageOf } from './commands.ts';
import { loggerFor } from '../lib/logger.ts';

/** Reads a line without echoing it (a password on a terminal). */
function askHidden(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    const output = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WriteStream };
    let asked = false;
    output._writeToOutput = (s: string) => {
      if (!asked) {
        asked = true;
        process.stdout.write(s);
      }
    };
    rl.question(question, (answer) => {
      rl.close();
      process.stdout.write('\n');
      resolve(answer);
    });
  });
}

async function firstLineOfStdin(): Promise<string> {
  let data = '';
  for await (const chunk of process.stdin) {
    data += chunk;
    if (data.includes('\n')) break;
  }
  return data.split(/\r?\n/)[0];
}

export default async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      email: { type: 'string' },
      role: { type: 'string' },
      name: { type: 'string' },
      invite: { type: 'boolean', default: false },
      'password-stdin': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (!values.email) throw new Error(`--email is required.\n${usageOf('user:create')}`);
  // No default: left out, it made a driver and mailed them a staff invitation.
  if (!values.role) throw new Error(`--role is required.\n${usageOf('user:create')}`);
  if (values.invite && values['password-stdin'])
    throw new Error(`--invite and --password-stdin cannot be combined.\n${usageOf('user:create')}`);

  let password: string | null = null;
  if (values['password-stdin']) {
    password = await firstLineOfStdin();
  } else if (!values.invite && process.stdin.isTTY) {
    password = await askHidden(`Password for ${values.email} (at least 10 characters): `);
    if ((await askHidden('Same password again: ')) !== password)
      throw new Error('The passwords differ; nothing was created.');
  }

  const client = new pg.Client({ connectionString: dbUrls().owner });
  await client.connect();
  try {
    await client.query('begin');
    const {
      rows: [user],
    } = await client.query<{ id: string }>('select app_private.user_create($1, $2, $3, $4, $5)::text as id', [
      values.email,
      values.name ?? null,
      values.role,
      password,
      'the operations team',
    ]);
    await client.query('commit');
    loggerFor('cli').info(
      { command: 'user:create', userId: user.id, role: values.role },
      password === null
        ? `Created ${values.role} ${values.email} (user ${user.id}); an invitation to set a password was emailed (valid 7 days).`
        : `Created ${values.role} ${values.email} (user ${user.id}) with the password given; the email counts as verified.`,
    );
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  } finally {
    await client.end();
  }
}
