// Mutations that check a password a caller could guess: changePassword (the
// current password, so a stolen session could guess it, 20 aliases a request,
// past the sign-in limit) and verifyEmail given a password (whoever holds the
// link guessing the account's). A wrong password raises, which rolls back
// anything the same transaction counted; so every attempt is counted first, in
// a transaction of its own, and the mutation runs only when under the limit:
// grafast makes the steps planned after a side effect depend on it.
import { constant, type ExecutableStep } from 'postgraphile/grafast';
import { sideEffectWithPgClient } from 'postgraphile/@dataplan/pg';
import { CodedError } from '../errors.ts';

type Input = { token?: unknown; password?: unknown } | null | undefined;

/** The counting statement of each guarded mutation, or null when this call checks no password. */
const COUNTERS: Record<string, (input: Input) => { text: string; values: unknown[] } | null> = {
  changePassword: () => ({ text: 'select app_hidden.password_check_hit() as retry_after', values: [] }),
  verifyEmail: (input) =>
    input?.password == null
      ? null
      : { text: 'select app_hidden.verify_email_check_hit($1) as retry_after', values: [String(input.token ?? '')] },
};

export const PasswordCheckLimitPlugin: GraphileConfig.Plugin = {
  name: 'PasswordCheckLimitPlugin',
  version: '1.1.0',
  schema: {
    hooks: {
      GraphQLObjectType_fields_field(field, build, context) {
        const original = field.plan;
        const counter = COUNTERS[context.scope.fieldName ?? ''];
        if (!context.scope.isRootMutation || !counter || !original) return field;
        const executor = build.input.pgRegistry.pgExecutors.main;
        return {
          ...field,
          plan(...args) {
            const [, fieldArgs] = args;
            const $input = (fieldArgs?.getRaw(['input']) ?? constant(null)) as ExecutableStep<Input>;
            sideEffectWithPgClient(executor, $input, async (client, input) => {
              const query = counter(input);
              if (!query) return;
              const { rows } = await client.query<{ retry_after: number }>(query);
              const wait = rows[0]?.retry_after ?? 0;
              if (wait > 0)
                throw new CodedError('SMA02', `Too many attempts. Try again in ${wait} seconds.`, String(wait));
            });
            return original(...args);
          },
        };
      },
    },
  },
};
