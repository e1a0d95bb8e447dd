// GraphQL `register` counts every well-formed attempt against the sign-up limit
// (20 an hour per client address), also those SQL refuses because the email
// has an account (SMA06). SQL's register cannot count them itself, because its refusal rolls
// the count back with everything else, and free refusals would let anyone test
// which addresses have accounts. So the mutation's plan first runs
// app_hidden.sign_up_gate in a side effect of its own (committed before
// register runs), and register runs only when the gate let the attempt in;
// else SMA02 with extensions.retryAfter. POST /auth/register does the same.
import { sideEffectWithPgClient } from 'postgraphile/@dataplan/pg';
import { CodedError } from '../errors.ts';

export function signUpLimited(retryAfter: number): CodedError {
  return new CodedError(
    'SMA02',
    `Too many sign-ups from your address. Try again in ${retryAfter} seconds.`,
    String(retryAfter),
  );
}

export const SignUpGatePlugin: GraphileConfig.Plugin = {
  name: 'SignUpGatePlugin',
  version: '1.0.0',
  schema: {
    hooks: {
      GraphQLObjectType_fields_field(field, build, context) {
        const plan = field.plan as ((...args: any[]) => any) | undefined;
        if (!context.scope.isRootMutation || context.scope.fieldName !== 'register' || !plan) return field;
        const executor = build.input.pgRegistry.pgExecutors.main;
        return {
          ...field,
          plan(this: unknown, $parent: any, fieldArgs: any, info: any) {
            // Steps planned after a side effect depend on it: register's runs only if this one succeeded.
            sideEffectWithPgClient(executor, fieldArgs.getRaw('input'), async (client, input: any) => {
              const {
                rows: [gate],
              } = await client.query<{ retry_after: number }>({
                text: 'select app_hidden.sign_up_gate($1, $2, $3) as retry_after',
                values: [input?.email ?? null, input?.name ?? null, input?.password ?? null],
              });
              if (gate.retry_after > 0) throw signUpLimited(gate.retry_after);
              return null;
            });
            return plan.call(this, $parent, fieldArgs, info);
          },
        } as typeof field;
      },
    },
  },
};
