// Live availability for clients without GraphQL subscriptions: GET /live/spots
// is a Server-Sent Events stream of the events of an area (minLat, minLng,
// maxLat, maxLng, or lat, lng, radius in km). Each event: `id: <event id>`,
// `event: availability`, `data: {id, spotId, lat, lng, reason, startsAt,
// endsAt}` — ids and positions, nothing about who booked. A client that
// reconnects with Last-Event-ID (EventSource does it by itself) first gets
// what it missed (events are kept LIVE_EVENT_RETENTION seconds), then the
// live ones; an id that is not one the server issued is refused (400 SMV04).
// A comment line every LIVE_HEARTBEAT seconds keeps proxies from closing the
// stream; a client address, and a signed-in account, each hold at most
// LIVE_MAX_PER_CLIENT streams and subscriptions together (429 SMV02,
// server/live/client_bound.ts). The process's LiveHub (server/live/hub.ts)
// is made here and shared with the GraphQL subscription.
import type { Express, NextFunction, Request, Response } from 'express';
import type { ServerConfig } from '../config.ts';
import { CodedError } from '../errors.ts';
import { liveClientKeys } from '../live/client_bound.ts';
import { areaOf, type LiveEvent, LiveHub } from '../live/hub.ts';
import { ownerPoolOf } from './installDatabasePools.ts';
import { clientAddress } from './installRequestSettings.ts';

export function liveHubOf(app: Express): LiveHub {
  return app.locals.liveHub as LiveHub;
}

const EVENT_ID = /^\d{1,18}$/;

function frame(e: LiveEvent): string {
  return `id: ${e.id}\nevent: availability\ndata: ${JSON.stringify(e)}\n\n`;
}

export function installLiveEvents(
  app: Express,
  config: ServerConfig,
  onClose: (fn: () => Promise<void>) => void,
): void {
  const hub = new LiveHub(config.db.owner, ownerPoolOf(app), config.live);
  app.locals.liveHub = hub;
  onClose(() => hub.close());
  // Open streams, ended first when the server closes (server/app.ts): they never finish by themselves.
  const streams = new Set<Response>();
  app.locals.beforeClose = [
    ...(app.locals.beforeClose ?? []),
    () => {
      for (const r of streams) r.end();
    },
  ];

  app.get('/live/spots', async (req: Request, res: Response, next: NextFunction) => {
    try {
      const area = areaOf(req.query as Record<string, unknown>, config.live.maxTiles);
      const lastEventId =
        req.get('last-event-id') ?? (typeof req.query.lastEventId === 'string' ? req.query.lastEventId : undefined);
      // An id above the newest issued is none this stream sent: resuming from
      // it would silently skip every event until the ids caught up with it.
      if (lastEventId !== undefined && !(EVENT_ID.test(lastEventId) && (await hub.issued(lastEventId)))) {
        throw new CodedError('SMV04', 'Last-Event-ID must be the id of an event this stream sent');
      }
      // Live events are held back until what was missed has been sent, then
      // sent as they come. Not filtered by "higher than the last id": ids are
      // taken when events are written and transactions commit in their own
      // order, so event 100 may arrive after 101 and must still be sent. What
      // the replay sent is not sent again when its NOTIFY arrives too.
      let replaying = true;
      const held: LiveEvent[] = [];
      const replayed = new Set<string>();
      const send = (e: LiveEvent) => {
        if (replayed.has(e.id)) return;
        if (replaying) replayed.add(e.id);
        res.write(frame(e));
      };
      const identity = res.locals.identity as { userId?: string } | undefined;
      // A client that hangs up while its tiles are being listened to (or even
      // before this handler ran: the session look-up is awaited too) must still
      // give its slot back, though its close event has passed by then.
      let closed = false;
      const gone = () => closed || req.socket.destroyed;
      let stop: (() => Promise<void>) | undefined;
      let heartbeat: NodeJS.Timeout | undefined;
      res.on('close', () => {
        closed = true;
        clearInterval(heartbeat);
        void stop?.();
      });
      stop = await hub.watch(area, liveClientKeys(identity?.userId, clientAddress(req.app, req)), (e) =>
        replaying ? held.push(e) : send(e),
      );
      if (gone()) {
        await stop();
        return;
      }
      streams.add(res);
      res.on('close', () => streams.delete(res));
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      res.write(`retry: 3000\n: watching ${area.minLat},${area.minLng} to ${area.maxLat},${area.maxLng}\n\n`);
      if (lastEventId !== undefined) for (const e of await hub.since(lastEventId, area)) send(e);
      replaying = false;
      for (const e of held.splice(0)) send(e);
      res.write('event: ready\ndata: {}\n\n');
      if (gone()) {
        await stop();
        return;
      }
      heartbeat = setInterval(() => res.write(': heartbeat\n\n'), config.live.heartbeatSeconds * 1000);
    } catch (err) {
      // Once the stream has started, an error can only end it (the client reconnects and resumes).
      if (res.headersSent) res.end();
      else next(err);
    }
  });
}
