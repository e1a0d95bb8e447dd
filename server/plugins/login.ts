// GraphQL `login(input: {email, password}) { userId sessionId token }` for API
// clients. Not a plain SQL mutation: a failed attempt must still be counted
// by the rate limit, and a function that raises would roll its counting back.
// So SQL (app_hidden.login) answers with a status and commits, and this plan
// turns `invalid` into error SMA01 and `limited` into SMA02 (with
// extensions.retryAfter) afterwards. Browsers use POST /auth/login (cookie).
import { extendSchema, gql } from 'postgraphile/utils';
import { lambda } from 'postgraphile/grafast';
import { sideEffectWithPgClient } from 'postgraphile/@dataplan/pg';
import { refuseFailedLogin, type LoginAttempt } from '../login_attempt.ts';

export const LoginPlugin = extendSchema((build) => {
  const executor = build.input.pgRegistry.pgExecutors.main;
  return {
    typeDefs: gql`
      input LoginInput {
        email: String!
        password: String!
      }
      """A new session. The token is shown only this once: send it as \`Authorization: Bearer <token>\`."""
      type LoginPayload {
        userId: BigInt!
        sessionId: UUID!
        token: String!
      }
      extend type Mutation {
        """
        Signs in with email and password. Wrong email or password: error SMA01 (the same for both).
        More than 10 attempts per email from one client address, or 100 per email or per address, in 15 minutes: error SMA02 with extensions.retryAfter (seconds).
        """
        login(input: LoginInput!): LoginPayload
      }
    `,
    plans: {
      Mutation: {
        login(_: unknown, fieldArgs: any) {
          const $input = fieldArgs.getRaw('input');
          const $attempt = sideEffectWithPgClient(executor, $input, async (client, input: any) => {
            const { rows } = await client.query<LoginAttempt>({
              text: 'select status, user_id::text, session_id, token, retry_after from app_hidden.login($1, $2)',
              values: [input?.email ?? null, input?.password ?? null],
            });
            return rows[0];
          });
          return lambda($attempt, (attempt: LoginAttempt) => {
            refuseFailedLogin(attempt);
            return { userId: attempt.user_id, sessionId: attempt.session_id, token: attempt.token };
          });
        },
      },
    },
  };
});
