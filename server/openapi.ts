// The OpenAPI 3.1 description of the API's plain HTTP routes (everything but
// the GraphQL schema, which documents itself through introspection). Served
// as GET /openapi.json and rendered as GET /docs (server/openapi_page.ts);
// test/openapi.test.ts holds it to the Express router: every route is
// described here and every operation here answers as described.
import { BODY_TOO_LARGE } from './errors.ts';

type Json = Record<string, unknown>;

const json = (schema: Json) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
/** GraphQL over HTTP: application/graphql-response+json unless the client accepts only application/json. */
const graphqlJson = () => ({
  'application/graphql-response+json': { schema: ref('GraphQLResponse') },
  ...json(ref('GraphQLResponse')),
});
/** A refusal of /graphql, before any GraphQL runs: a GraphQL response with errors only, as either JSON type. */
const graphqlError = (description: string) => ({
  description,
  content: {
    'application/graphql-response+json': { schema: ref('GraphQLErrorResponse') },
    ...json(ref('GraphQLErrorResponse')),
  },
});
const error = (description: string) => ({ description, content: json(ref('Error')) });
/** What express.json (and express.raw) answer past a route's body limit. */
const TOO_LARGE = `BAD_REQUEST, "${BODY_TOO_LARGE}"`;
const redirect = (description: string) => ({
  description,
  headers: { Location: { schema: { type: 'string' }, description: 'Where the browser goes next.' } },
});

/** What a POST may get before its route runs (CSRF and CORS checks). */
const CUSTOMER_ID = [
  {
    name: 'id',
    in: 'path',
    required: true,
    schema: { type: 'string', pattern: '^\\d+$' },
    description: "The customer's rowId.",
  },
];

const FORBIDDEN_WHY =
  'SMA14: a cookie-authenticated request without the right X-CSRF-Token header; SMA18: an origin CORS does not allow.';
const FORBIDDEN = { '403': error(FORBIDDEN_WHY) };
/** The JSON body limit of /auth/* (installAuthRoutes.ts). */
const AUTH_TOO_LARGE = { '413': error(`${TOO_LARGE}: a JSON body over 16 kB.`) };

const credentials = (withName: boolean) => ({
  required: true,
  content: json({
    type: 'object',
    required: withName ? ['email', 'name', 'password'] : ['email', 'password'],
    properties: {
      email: { type: 'string', format: 'email' },
      ...(withName ? { name: { type: 'string', minLength: 1, maxLength: 100 } } : {}),
      password: { type: 'string', minLength: 10, description: 'At most 72 bytes.' },
      session: {
        type: 'string',
        enum: ['cookie'],
        description:
          '"cookie": set the HttpOnly session cookie and the CSRF cookie instead of returning a bearer token.',
      },
    },
  }),
});

const sessionAnswer = (description: string) => ({ description, content: json(ref('Session')) });

function oauthStart(provider: string, name: string) {
  return {
    get: {
      operationId: `${provider}SignIn`,
      tags: ['Sign-in'],
      summary: `Start sign-in with ${name}`,
      description: `Redirects to ${name} (authorization code flow with state and PKCE${provider === 'google' ? ' and a nonce' : ''}); the round trip is bound to the browser by a signed cookie.`,
      parameters: [
        {
          name: 'intent',
          in: 'query',
          schema: { type: 'string', enum: ['staff'] },
          description: 'staff: never create an account; the email must be pre-registered by an admin.',
        },
        {
          name: 'redirect',
          in: 'query',
          schema: { type: 'string' },
          description: 'A path inside the web app to land on afterwards (other values are ignored).',
        },
      ],
      responses: {
        '302': redirect(`To ${name}'s consent page.`),
        '404': error(`NOT_FOUND: sign-in with ${name} is not configured.`),
      },
    },
  };
}

function oauthCallback(provider: string, name: string) {
  return {
    get: {
      operationId: `${provider}SignInCallback`,
      tags: ['Sign-in'],
      summary: `${name} returns here`,
      description: `Exchanges the code, checks state, PKCE${provider === 'google' ? ', nonce and the id_token signature' : ''}, then signs the browser in with the session cookie.`,
      parameters: [
        { name: 'code', in: 'query', schema: { type: 'string' } },
        { name: 'state', in: 'query', schema: { type: 'string' } },
        {
          name: 'error',
          in: 'query',
          schema: { type: 'string' },
          description: 'Set by the provider when the person refused.',
        },
      ],
      responses: {
        '302': redirect(
          'To WEB_URL + the redirect path, signed in; or to WEB_URL/sign-in?error=SMA12 (refused) or SMA13 (failed).',
        ),
        '404': error(`NOT_FOUND: sign-in with ${name} is not configured.`),
      },
    },
  };
}

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'Secure My Spot HTTP routes',
    version: '1',
    description:
      'The plain HTTP routes beside the GraphQL API. Errors are `{"error": {"code", "message"}}` with the codes of README\'s error table; ' +
      'POST /graphql answers every error, refusals before any GraphQL runs included, as a GraphQL response, `{"errors": [{"message", "extensions": {"code"}}]}`. ' +
      'API clients authenticate with `Authorization: Bearer <token>`; browsers with the `sms_session` cookie and, on every POST, ' +
      'the `sms_csrf` cookie echoed in an `X-CSRF-Token` header.',
  },
  tags: [
    { name: 'Service', description: 'Probes and descriptions for operators.' },
    { name: 'Sign-in', description: 'Password and Google/Facebook sign-in.' },
    { name: 'Webhooks', description: 'Events from the payment provider.' },
    { name: 'GraphQL', description: 'The API itself; its schema documents every type and field.' },
    { name: 'Live', description: 'Availability pushed as it changes.' },
    { name: 'Customers', description: 'Customer photos (staff only; everything else about customers is GraphQL).' },
  ],
  paths: {
    '/health': {
      get: {
        operationId: 'health',
        tags: ['Service'],
        summary: 'Liveness',
        description:
          'The process is up and serving HTTP; nothing else is checked, so a database outage does not get the API restarted.',
        responses: { '200': { description: 'Up.', content: json(ref('Status')) } },
      },
    },
    '/ready': {
      get: {
        operationId: 'ready',
        tags: ['Service'],
        summary: 'Readiness',
        description:
          'The database answers (within 2 s), every committed migration has run, and the GraphQL schema is built.',
        responses: {
          '200': { description: 'Ready for traffic.', content: json(ref('Readiness')) },
          '503': {
            description: 'Not ready: `checks` says which check failed and why.',
            content: json(ref('Readiness')),
          },
        },
      },
    },
    '/metrics': {
      get: {
        operationId: 'metrics',
        tags: ['Service'],
        summary: 'Prometheus metrics',
        description:
          'Request latency by route and GraphQL operation, database pools, job queue depth and lateness by task, work due in the rows and its lateness, emails pending, charges by outcome. ' +
          'With METRICS_TOKEN set, send `Authorization: Bearer <METRICS_TOKEN>`; without it the route is open in development and absent in production.',
        responses: {
          '200': {
            description: 'Prometheus text format 0.0.4.',
            content: { 'text/plain': { schema: { type: 'string' } } },
          },
          '401': error('SMH01: the METRICS_TOKEN bearer token is missing or wrong.'),
          '404': error('NOT_FOUND: production without METRICS_TOKEN.'),
        },
      },
    },
    '/openapi.json': {
      get: {
        operationId: 'openApiDocument',
        tags: ['Service'],
        summary: 'This document',
        responses: {
          '200': { description: 'OpenAPI 3.1.', content: json({ type: 'object', required: ['openapi', 'paths'] }) },
        },
      },
    },
    '/docs': {
      get: {
        operationId: 'openApiReference',
        tags: ['Service'],
        summary: 'This document as a web page',
        description: 'Self-contained HTML (no scripts or assets from elsewhere): works offline.',
        responses: {
          '200': { description: 'The reference page.', content: { 'text/html': { schema: { type: 'string' } } } },
        },
      },
    },
    '/graphql': {
      post: {
        operationId: 'graphql',
        tags: ['GraphQL'],
        summary: 'The GraphQL API',
        description:
          'Every query and mutation. Errors carry `extensions.code`; the IDE at /graphiql (development) documents the schema. Subscriptions run over the websocket on the same path (a subscription sent here is refused: `SMV05`).',
        requestBody: {
          required: true,
          content: json({
            type: 'object',
            required: ['query'],
            properties: {
              query: { type: 'string' },
              variables: { type: 'object' },
              operationName: { type: 'string' },
            },
          }),
        },
        responses: {
          '200': {
            description:
              'A GraphQL response: data, and errors with their codes if any. A client that accepts only application/json also gets the 400s of a query that does not parse or validate, or of a subscription, as a 200.',
            content: graphqlJson(),
          },
          '400': graphqlError(
            'GRAPHQL_VALIDATION_FAILED or an SMQ code: a query that does not parse, validate or keep to the cost limits; SMV05: a subscription (websocket only); SMQ05: a batch; BAD_REQUEST: a body that does not parse.',
          ),
          '401': graphqlError('SMA15: the bearer token is unknown, revoked or expired (sign in again).'),
          '403': graphqlError(FORBIDDEN_WHY),
          '405': graphqlError('BAD_REQUEST: a method other than POST.'),
          '406': graphqlError('BAD_REQUEST: an Accept header that allows no JSON answer.'),
          '413': graphqlError(`${TOO_LARGE}: a body over 100 kB.`),
          '415': graphqlError(
            'BAD_REQUEST: a body other than application/json or application/graphql (forms included).',
          ),
          '503': {
            ...graphqlError(
              'The GraphQL schema is not built yet (the database has not answered since the process started; the build is retried): `INTERNAL`, "Service not ready, retry shortly (reference …)", with Retry-After. /ready says `graphql: schema not built yet` meanwhile.',
            ),
            headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait.' } },
          },
        },
      },
    },
    '/live/spots': {
      get: {
        operationId: 'liveSpots',
        tags: ['Live'],
        summary: 'Live availability of an area (Server-Sent Events)',
        description:
          'A text/event-stream of `availability` events (`id: <event id>`, `data: {id, spotId, lat, lng, reason, startsAt, endsAt}`; reason taken, freed, changed, out_of_service or in_service) for spots in a box or within a radius; ids and positions only. ' +
          'Reconnecting with `Last-Event-ID` first sends what was missed (events are kept LIVE_EVENT_RETENTION seconds), then `event: ready`, then live events; a comment line every LIVE_HEARTBEAT seconds. ' +
          'The same events reach GraphQL clients as `Subscription.spotAvailability` over a websocket on /graphql (graphql-transport-ws; subscriptions only).',
        parameters: [
          ...['minLat', 'minLng', 'maxLat', 'maxLng'].map((name) => ({
            name,
            in: 'query',
            schema: { type: 'number' },
            description: 'A box: all four, and none of lat, lng, radius.',
          })),
          ...['lat', 'lng'].map((name) => ({
            name,
            in: 'query',
            schema: { type: 'number' },
            description: 'Centre of a circle (with radius, and none of the box parameters).',
          })),
          {
            name: 'radius',
            in: 'query',
            schema: { type: 'number', exclusiveMinimum: 0, maximum: 50 },
            description: 'Radius of the circle in km.',
          },
          {
            name: 'Last-Event-ID',
            in: 'header',
            schema: { type: 'string', pattern: '^[0-9]{1,18}$' },
            description: 'Resume after this event.',
          },
        ],
        responses: {
          '200': { description: 'The event stream.', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          '400': error(
            'SMV01: a bad area (not exactly a whole box or a whole circle: a parameter missing, or box and circle parameters mixed; off-globe coordinates, radius above 50 km, more than LIVE_MAX_TILES tiles); SMV04: a Last-Event-ID that is not an event id.',
          ),
          '429': error(
            'SMV02: this client address or account already holds LIVE_MAX_PER_CLIENT live streams and subscriptions.',
          ),
        },
      },
    },
    '/auth/register': {
      post: {
        operationId: 'register',
        tags: ['Sign-in'],
        summary: 'Create an account and sign in',
        requestBody: credentials(true),
        responses: {
          '201': sessionAnswer('Signed in: a bearer token, or cookies and a CSRF token with `session: "cookie"`.'),
          '400': error(
            'SMA03 email, SMA04 password or SMA05 name not accepted; BAD_REQUEST for a body that does not parse, or a `session` other than "cookie".',
          ),
          '415': error('BAD_REQUEST: a body that is not application/json (forms included).'),
          '409': error('SMA06: an account with this email already exists.'),
          ...AUTH_TOO_LARGE,
          '429': {
            ...error('SMA02: too many sign-ups from this address; retry after Retry-After seconds.'),
            headers: { 'Retry-After': { schema: { type: 'integer' } } },
          },
          ...FORBIDDEN,
        },
      },
    },
    '/auth/login': {
      post: {
        operationId: 'login',
        tags: ['Sign-in'],
        summary: 'Sign in with email and password',
        requestBody: credentials(false),
        responses: {
          '200': sessionAnswer('Signed in.'),
          '400': error('BAD_REQUEST: a body that does not parse, or a `session` other than "cookie".'),
          '401': error('SMA01: wrong email or password (the same answer for both).'),
          ...AUTH_TOO_LARGE,
          '415': error('BAD_REQUEST: a body that is not application/json (forms included).'),
          ...FORBIDDEN,
          '429': {
            ...error('SMA02: too many attempts; retry after Retry-After seconds.'),
            headers: { 'Retry-After': { schema: { type: 'integer' } } },
          },
        },
      },
    },
    '/auth/logout': {
      post: {
        operationId: 'logout',
        tags: ['Sign-in'],
        summary: 'Sign out',
        description: 'Revokes the current session (if any) and clears the cookies.',
        responses: { '204': { description: 'Signed out.' }, ...FORBIDDEN, ...AUTH_TOO_LARGE },
      },
    },
    '/auth/google': oauthStart('google', 'Google'),
    '/auth/google/callback': oauthCallback('google', 'Google'),
    '/auth/facebook': oauthStart('facebook', 'Facebook'),
    '/auth/facebook/callback': oauthCallback('facebook', 'Facebook'),
    '/customers/{id}/photo': {
      post: {
        operationId: 'uploadCustomerPhoto',
        parameters: CUSTOMER_ID,
        tags: ['Customers'],
        summary: "Upload a customer's photo (staff)",
        description:
          'The request body is the image file itself (no multipart). Its type is decided from its bytes: JPEG, PNG or WebP; ' +
          'an image Content-Type that disagrees with the bytes is a renamed file. At most PHOTO_MAX_BYTES bytes and PHOTO_MAX_PIXELS pixels ' +
          '(checked from the header, before decoding). Stored re-encoded as a JPEG at most PHOTO_SIZE pixels on its longer side, ' +
          'rotated upright and without metadata, replacing the previous photo. Bearer token, or cookie + X-CSRF-Token.',
        requestBody: {
          required: true,
          content: {
            'image/jpeg': { schema: { type: 'string', format: 'binary' } },
            'image/png': { schema: { type: 'string', format: 'binary' } },
            'image/webp': { schema: { type: 'string', format: 'binary' } },
          },
        },
        responses: {
          '201': {
            description: 'Stored.',
            content: json({
              type: 'object',
              required: ['customerId', 'photoUrl', 'contentType', 'bytes'],
              properties: {
                customerId: { type: 'string' },
                photoUrl: { type: 'string' },
                contentType: { type: 'string' },
                bytes: { type: 'integer' },
              },
            }),
          },
          '401': error('SMA08: not signed in.'),
          '403': error('SMC01: not an operator or admin; SMA14: cookie without the CSRF header.'),
          '404': error('SMC03: no such customer, or soft-deleted.'),
          '413': error('SMU01: larger than PHOTO_MAX_BYTES.'),
          '415': error('SMU02: not JPEG, PNG or WebP by its content, or sent as another image type.'),
          '422': error('SMU03: more pixels than PHOTO_MAX_PIXELS (decompression bomb); SMU04: not decodable.'),
        },
      },
      get: {
        operationId: 'customerPhoto',
        parameters: CUSTOMER_ID,
        tags: ['Customers'],
        summary: "A customer's photo (staff)",
        description:
          'The stored JPEG with Cache-Control: private, max-age=86400 (the URL GraphQL gives as Customer.photoUrl changes with every upload), an ETag (If-None-Match → 304) and X-Content-Type-Options: nosniff.',
        responses: {
          '200': {
            description: 'The photo.',
            content: { 'image/jpeg': { schema: { type: 'string', format: 'binary' } } },
          },
          '304': { description: 'Not modified.' },
          '401': error('SMA08: not signed in.'),
          '403': error('SMC01: not an operator or admin.'),
          '404': error('SMC03: no such customer (or soft-deleted); SMU05: no photo.'),
        },
      },
    },
    '/webhooks/stripe': {
      post: {
        operationId: 'stripeWebhook',
        tags: ['Webhooks'],
        summary: 'Stripe events',
        description:
          'The raw body must verify against the Stripe-Signature header and STRIPE_WEBHOOK_SECRET. Replays are recorded once.',
        parameters: [{ name: 'Stripe-Signature', in: 'header', required: true, schema: { type: 'string' } }],
        requestBody: { required: true, content: json({ type: 'object', description: 'A Stripe event.' }) },
        responses: {
          '200': {
            description: 'Recorded (or already recorded).',
            content: json({
              type: 'object',
              required: ['received', 'duplicate'],
              properties: { received: { type: 'boolean' }, duplicate: { type: 'boolean' } },
            }),
          },
          '400': error('BAD_SIGNATURE: missing or wrong signature, or a stale timestamp.'),
          '413': error(`${TOO_LARGE}: a body over 512 kB.`),
          '500': error('INTERNAL: recording failed; Stripe delivers the event again.'),
        },
      },
    },
  },
  components: {
    schemas: {
      Error: {
        type: 'object',
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            required: ['code', 'message'],
            properties: {
              code: {
                type: 'string',
                description: "A code of README's error table, or NOT_FOUND, BAD_REQUEST, BAD_SIGNATURE, INTERNAL.",
              },
              message: { type: 'string' },
            },
          },
        },
      },
      Status: {
        type: 'object',
        required: ['status'],
        properties: { status: { type: 'string', enum: ['ok'] } },
      },
      Readiness: {
        type: 'object',
        required: ['status', 'checks'],
        properties: {
          status: { type: 'string', enum: ['ready', 'unavailable'] },
          checks: {
            type: 'object',
            description:
              '"ok", or why not: database ("unavailable: …"), migrations ("N pending (from 000015)"), graphql.',
            properties: { database: { type: 'string' }, migrations: { type: 'string' }, graphql: { type: 'string' } },
          },
        },
      },
      Session: {
        type: 'object',
        required: ['userId', 'sessionId'],
        properties: {
          userId: { type: 'string' },
          sessionId: { type: 'string' },
          token: { type: 'string', description: 'For `Authorization: Bearer`; absent with `session: "cookie"`.' },
          csrfToken: {
            type: 'string',
            description: 'With `session: "cookie"`: send it as X-CSRF-Token on every POST.',
          },
          user: {
            type: 'object',
            description: 'After sign-up: the new user.',
            properties: {
              rowId: { type: 'string' },
              email: { type: 'string' },
              name: { type: 'string' },
              role: { type: 'string' },
              isVerified: { type: 'boolean' },
            },
          },
        },
      },
      GraphQLResponse: {
        type: 'object',
        properties: {
          data: { type: ['object', 'null'] },
          errors: { type: 'array', items: ref('GraphQLError') },
        },
      },
      GraphQLErrorResponse: {
        type: 'object',
        description: 'A request refused before any GraphQL ran: errors, no data.',
        required: ['errors'],
        properties: { errors: { type: 'array', minItems: 1, items: ref('GraphQLError') } },
      },
      GraphQLError: {
        type: 'object',
        required: ['message', 'extensions'],
        properties: {
          message: { type: 'string' },
          extensions: {
            type: 'object',
            required: ['code'],
            properties: {
              code: {
                type: 'string',
                description: "A code of README's error table, or BAD_REQUEST.",
              },
            },
          },
        },
      },
    },
  },
} as const satisfies Json;
