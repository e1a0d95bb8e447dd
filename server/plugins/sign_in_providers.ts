// Query.signInProviders: which of Google and Facebook sign-in this server has
// configured, so the web app shows only buttons that work. Configuration, not
// data, hence a plugin rather than SQL.
import { constant } from 'postgraphile/grafast';
import { extendSchema, gql } from 'postgraphile/utils';
import type { ServerConfig } from '../config.ts';

export function makeSignInProvidersPlugin(config: Pick<ServerConfig, 'google' | 'facebook'>): GraphileConfig.Plugin {
  const providers = [config.google ? 'google' : null, config.facebook ? 'facebook' : null].filter(
    (p): p is string => p !== null,
  );
  return extendSchema(() => ({
    typeDefs: gql`
      extend type Query {
        "Sign-in providers configured on this server (google, facebook): start one at GET /auth/<provider>."
        signInProviders: [String!]!
      }
    `,
    objects: {
      Query: { plans: { signInProviders: () => constant(providers) } },
    },
  }));
}
