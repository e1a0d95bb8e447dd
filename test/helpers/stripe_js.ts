// The emulator's Stripe.js-compatible script (GET /v3/) run as a browser page runs it: fetched
// from its URL and evaluated with the page's globals (fetch, URLSearchParams, a document with
// just what the card element uses, window.confirm for the 3-D Secure question).
import vm from 'node:vm';

/** The little of the DOM the card element touches: elements, attributes, children, input events. */
export class FakeElement {
  attributes: Record<string, string> = {};
  children: FakeElement[] = [];
  parentNode: FakeElement | null = null;
  value = '';
  private listeners: Record<string, Array<() => void>> = {};
  setAttribute(name: string, value: string) {
    this.attributes[name] = value;
  }
  appendChild(child: FakeElement) {
    child.parentNode = this;
    this.children.push(child);
    return child;
  }
  removeChild(child: FakeElement) {
    this.children = this.children.filter((c) => c !== child);
    child.parentNode = null;
    return child;
  }
  addEventListener(event: string, fn: () => void) {
    (this.listeners[event] ??= []).push(fn);
  }
  /** What typing into an input does: a new value, then an input event. */
  type(value: string) {
    this.value = value;
    for (const fn of this.listeners.input ?? []) fn();
  }
  /** The input named `card-<field>` inside this element. */
  input(field: 'number' | 'expiry' | 'cvc'): FakeElement {
    const found = this.children.flatMap((c) => [c, ...c.children]).find((c) => c.attributes.name === `card-${field}`);
    if (!found) throw new Error(`no card-${field} input`);
    return found;
  }
}

export interface StripeJsPage {
  /** `Stripe(pk)` as the script defines it. */
  Stripe: (publishableKey: string) => any;
  /** A mount point for the card element (`#card`). */
  cardSlot: FakeElement;
}

/** Loads the script from `url` into a fresh page; `confirm` answers the 3-D Secure question. */
export async function loadStripeJs(url: string, confirm: () => boolean = () => true): Promise<StripeJsPage> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  const source = await res.text();
  const cardSlot = new FakeElement();
  const document = {
    createElement: () => new FakeElement(),
    querySelector: (selector: string) => (selector === '#card' ? cardSlot : null),
  };
  const window: Record<string, unknown> = { fetch, URLSearchParams, document, confirm };
  vm.runInNewContext(source, { window, fetch, URLSearchParams, Object, Promise, Error, String, JSON });
  return { Stripe: window.Stripe as StripeJsPage['Stripe'], cardSlot };
}
