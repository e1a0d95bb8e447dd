// Subscription.spotAvailability: the live availability events of an area over
// GraphQL subscriptions (graphql-ws on /graphql), fed by the process's LiveHub
// (server/live/hub.ts, the same events as GET /live/spots). An event carries
// ids and positions; its `spot` is loaded per subscriber, with the
// subscriber's own pgSettings (row level security, isSaved), because the
// LISTEN connection runs with no identity.
//
// Websockets carry subscriptions only: a query or mutation sent over the socket
// is refused (SMV03) after parsing and validation, so it never runs. Those go
// over HTTP POST, where CSRF, CORS, rate limits and cost limits apply; the
// subscription itself still passes grafserv's validation (cost rules included).
import { getOperationAST, GraphQLError } from 'postgraphile/graphql';
import { access, context, lambda, listen } from 'postgraphile/grafast';
import { extendSchema, gql } from 'postgraphile/utils';
import { areaOf, type LiveHub } from '../live/hub.ts';
import { ERROR_CODES } from '../error_codes.ts';

export const LiveSubscriptionPlugin: GraphileConfig.Plugin = extendSchema((build) => {
  const spots = build.input.pgRegistry.pgResources.spots;
  return {
    typeDefs: gql`
      "A spot in the watched area became taken or free, changed its window, or went out of or back into service."
      type SpotAvailabilityEvent {
        "Increasing id of the event (the same as the SSE stream's)."
        eventId: String!
        "The spot's rowId."
        spotId: BigInt!
        lat: Float!
        lng: Float!
        "taken, freed, changed, out_of_service or in_service."
        reason: String!
        "The window taken or freed (null for service changes)."
        startsAt: Datetime
        endsAt: Datetime
        "The spot, read with the subscriber's own rights."
        spot: Spot
      }
      extend type Subscription {
        """
        Availability events of spots in an area: a box (minLat, minLng, maxLat, maxLng) or a point and
        radius in km (lat, lng, radius), at most LIVE_MAX_TILES tiles of 0.05°. SMV01 for a bad area,
        SMV02 when the client's address or account already holds LIVE_MAX_PER_CLIENT live streams.
        """
        spotAvailability(minLat: Float, minLng: Float, maxLat: Float, maxLng: Float, lat: Float, lng: Float, radius: Float): SpotAvailabilityEvent!
      }
    `,
    objects: {
      Subscription: {
        plans: {
          spotAvailability: {
            subscribePlan(_$root, fieldArgs) {
              const $subscriber = lambda(
                [context().get('liveHub' as never), context().get('liveClientKeys' as never), fieldArgs.getRaw()],
                ([hub, clientKeys, args]) => {
                  const live = hub as unknown as LiveHub;
                  const area = areaOf(args as Record<string, unknown>, live.settings.maxTiles);
                  return { subscribe: () => live.stream(area, clientKeys as unknown as string[]) };
                },
              );
              return listen($subscriber as never, 'spotAvailability');
            },
            plan($event) {
              return $event;
            },
          },
        },
      },
      SpotAvailabilityEvent: {
        plans: {
          // The other fields are the event's own properties (grafast's default plan).
          eventId($e) {
            return access($e, 'id');
          },
          spot($e) {
            return spots.get({ id: access($e, 'spotId') });
          },
        },
      },
    },
  };
});

/** Refuses every operation but a subscription on a websocket (SMV03), before it runs. */
export const WebsocketSubscriptionsOnlyPlugin: GraphileConfig.Plugin = {
  name: 'WebsocketSubscriptionsOnlyPlugin',
  version: '0.0.0',
  grafserv: {
    middleware: {
      async onSubscribe(next) {
        const result = await next();
        if (!result || Array.isArray(result)) return result;
        const args = result as { document: import('postgraphile/graphql').DocumentNode; operationName?: string | null };
        if (getOperationAST(args.document, args.operationName ?? undefined)?.operation !== 'subscription') {
          return [new GraphQLError(ERROR_CODES.SMV03, { extensions: { code: 'SMV03' } })];
        }
        return result;
      },
    },
  },
};

/**
 * Refuses a subscription sent over HTTP (SMV05), before it runs. grafserv would
 * answer it as a multipart stream, but the stream's LiveHub slot was never
 * given back when the client hung up: ten short requests locked a client out
 * of every live stream. Live updates come over the websocket or GET /live/spots,
 * whose closing is watched. Only HTTP requests reach grafast's execute (the
 * websocket path subscribes, and WebsocketSubscriptionsOnlyPlugin refuses the rest).
 */
export const HttpSubscriptionsRefusedPlugin: GraphileConfig.Plugin = {
  name: 'HttpSubscriptionsRefusedPlugin',
  version: '0.0.0',
  grafast: {
    middleware: {
      execute(next, event) {
        const { document, operationName } = event.args;
        if (getOperationAST(document, operationName ?? undefined)?.operation === 'subscription') {
          return { errors: [new GraphQLError(ERROR_CODES.SMV05, { extensions: { code: 'SMV05' } })] };
        }
        return next();
      },
    },
  },
};
