// Events: every state change the project listens for becomes an `evt_…` (data.object is a
// snapshot of the object at that moment), listed by /v1/events and sent to the webhook endpoint.
import { resourceMissing } from './errors.ts';
import { bool, rejectUnknown, str, strList } from './form.ts';
import { newId, nowSeconds } from './ids.ts';
import { route, type Route } from './routing.ts';
import { snapshot, type StripeEvent } from './shapes.ts';
import { LIST_PARAMS, paginate, type Store } from './store.ts';
import type { WebhookDispatcher, WebhookEndpoint } from './webhooks.ts';

export type RequestInfo = { id: string | null; idempotency_key: string | null };

export class EventLog {
  endpoint: WebhookEndpoint | null = null;
  /** Event types sent to the endpoint (Stripe's enabled_events); ['*'] = all. */
  enabledEvents: string[] = ['*'];
  private readonly store: Store;
  private readonly dispatcher: WebhookDispatcher;
  private readonly apiVersion: string;

  constructor(store: Store, dispatcher: WebhookDispatcher, apiVersion: string) {
    this.store = store;
    this.dispatcher = dispatcher;
    this.apiVersion = apiVersion;
  }

  emit(
    type: string,
    object: unknown,
    request: RequestInfo | null,
    previousAttributes?: Record<string, unknown>,
  ): StripeEvent {
    const event: StripeEvent = {
      id: newId('evt'),
      object: 'event',
      api_version: this.apiVersion,
      created: nowSeconds(),
      data: previousAttributes
        ? { object: snapshot(object), previous_attributes: previousAttributes }
        : { object: snapshot(object) },
      livemode: false,
      pending_webhooks: 0,
      request: request ?? { id: null, idempotency_key: null },
      type,
    };
    this.store.events.add(event, type);
    if (this.endpoint && (this.enabledEvents.includes('*') || this.enabledEvents.includes(type))) this.deliver(event);
    return event;
  }

  /** Queue (again) the delivery of a stored event; false when no endpoint is configured. */
  deliver(event: StripeEvent): boolean {
    const endpoint = this.endpoint;
    if (!endpoint) return false;
    event.pending_webhooks++;
    // The payload is the event as first created (pending_webhooks as Stripe sends it: ≥ 1).
    const payload = JSON.stringify(event, null, 2);
    this.dispatcher.enqueue(event.id, payload, endpoint, () => {
      if (event.pending_webhooks > 0) event.pending_webhooks--;
    });
    return true;
  }
}

export const eventRoutes: Route[] = [
  route('GET', '/v1/events/:id', (core, { params, ids: [id] }) => {
    rejectUnknown(params, ['expand']);
    const event = core.store.events.get(id!);
    if (!event) throw resourceMissing('event', id!, 'id');
    return { body: event };
  }),

  route('GET', '/v1/events', (core, { params }) => {
    rejectUnknown(params, [...LIST_PARAMS, 'type', 'types', 'delivery_success']);
    const type = str(params, 'type');
    const types = strList(params, 'types');
    const delivered = bool(params, 'delivery_success');
    // `type` may end in `.*` (e.g. `payment_intent.*`), like Stripe's filter.
    const matches = (t: string) =>
      (type === undefined || (type.endsWith('.*') ? t.startsWith(type.slice(0, -1)) : t === type)) &&
      (types === undefined || types.includes(t));
    const scope = type !== undefined && !type.endsWith('.*') ? core.store.events.scope(type) : core.store.events.all;
    return {
      body: paginate(
        scope,
        params,
        '/v1/events',
        (e) => matches(e.type) && (delivered === undefined || (e.pending_webhooks === 0) === delivered),
      ),
    };
  }),
];
