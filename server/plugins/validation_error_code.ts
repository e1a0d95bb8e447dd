// grafserv answers parse and validation errors (a syntax error, an unknown
// field) without passing them through maskError, so they would reach clients
// without the `extensions.code` every other error has. This wraps the
// parse-and-validate step to add it, and to refuse a document nested too deep
// to parse (SMQ01) before the parser's recursion exhausts the stack.
import { GraphQLError } from 'postgraphile/graphql';
import type { ExecutionConfig } from 'postgraphile/grafserv';
import { nestingRefused, nestsTooDeep } from '../query_limits.ts';

function withValidationCode(error: GraphQLError): GraphQLError {
  if (error.extensions?.code) return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { ...error.extensions, code: 'GRAPHQL_VALIDATION_FAILED' },
  });
}

function coded(config: ExecutionConfig): ExecutionConfig {
  const { parseAndValidate } = config;
  return {
    ...config,
    parseAndValidate(query: string) {
      if (nestsTooDeep(query)) return { errors: [nestingRefused()] };
      const result = parseAndValidate(query);
      return result.errors ? { ...result, errors: result.errors.map(withValidationCode) } : result;
    },
  };
}

export const ValidationErrorCodePlugin: GraphileConfig.Plugin = {
  name: 'ValidationErrorCodePlugin',
  version: '1.0.0',
  grafserv: {
    middleware: {
      setPreset(next, dynamicOptions) {
        const getExecutionConfig = dynamicOptions.getExecutionConfig;
        dynamicOptions.getExecutionConfig = function (ctx) {
          const config = getExecutionConfig.call(this, ctx);
          // Keep the synchronous path synchronous: grafserv calls this per request.
          return 'then' in config ? Promise.resolve(config).then(coded) : coded(config);
        };
        return next();
      },
    },
  },
};
