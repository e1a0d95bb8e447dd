// changePassword checks the current password, so a stolen session could guess
// it (20 aliases a request) past the sign-in limit. A wrong password raises
// SMA09, which rolls back anything the same transaction counted; so every
// attempt is counted first, in a transaction of its own
// (app_hidden.password_check_hit), and the mutation runs only when under the
// limit: grafast makes the steps planned after a side effect depend on it.
import { constant } from 'postgraphile/grafast';
import { sideEffectWithPgClient } from 'postgraphile/@dataplan/pg';
import { CodedError } from '../errors.ts';

export const PasswordCheckLimitPlugin: GraphileConfig.Plugin = {
  name: 'PasswordCheckLimitPlugin',
  version: '1.0.0',
  schema: {
    hooks: {
      GraphQLObjectType_fields_field(field, build, context) {
        const original = field.plan;
        if (!context.scope.isRootMutation || context.scope.fieldName !== 'changePassword' || !original) return field;
        const executor = build.input.pgRegistry.pgExecutors.main;
        return {
          ...field,
          plan(...args) {
            sideEffectWithPgClient(executor, constant(null), async (client) => {
              const { rows } = await client.query<{ retry_after: number }>({
                text: 'select app_hidden.password_check_hit() as retry_after',
              });
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
