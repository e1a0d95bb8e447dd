// PostGraphile's generated mutations on users (updateUser, updateUserByEmail,
// updateUserById) answer `{ user: null }` and no error when their key matches
// no row the caller may change: under row level security another person's id
// reads exactly like a success that changed nothing. Here they answer SMA17
// instead. Nothing is written either way. (users is the only table whose
// generated update or delete mutations the API offers.)
import { sideEffect, type ExecutableStep, type ObjectStep } from 'postgraphile/grafast';
import { CodedError } from '../errors.ts';

export const NoRowMutationErrorPlugin: GraphileConfig.Plugin = {
  name: 'NoRowMutationErrorPlugin',
  version: '1.0.0',
  schema: {
    hooks: {
      GraphQLObjectType_fields_field(field, _build, context) {
        const { scope } = context;
        const original = field.plan;
        if (!scope.isRootMutation || !scope.isPgUpdateMutation || scope.pgFieldResource?.name !== 'users' || !original)
          return field;
        return {
          ...field,
          plan(...args) {
            // The generated plan is object({ result: <the update step> }).
            const $payload = original(...args) as ObjectStep<{ result: ExecutableStep }>;
            sideEffect($payload.get('result'), (row) => {
              if (row == null) throw new CodedError('SMA17', 'No such user: updateUser changes only your own account');
            });
            return $payload;
          },
        };
      },
    },
  },
};
