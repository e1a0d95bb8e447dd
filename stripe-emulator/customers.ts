// /v1/customers: create, retrieve (deleted → stub), update, delete, list by email.
import { invalidRequest, resourceMissing } from './errors.ts';
import { applyMetadata, hash, nullableStr, rejectUnknown, str, type Params } from './form.ts';
import { attachPaymentMethod, findPaymentMethod } from './payment_methods.ts';
import { route, type Core, type Route } from './routing.ts';
import { makeCustomer, type Customer } from './shapes.ts';
import { LIST_PARAMS, paginate } from './store.ts';

const WRITABLE = ['email', 'name', 'phone', 'description', 'metadata', 'invoice_settings', 'expand'] as const;
const IGNORED = [
  'address',
  'shipping',
  'preferred_locales',
  'tax_exempt',
  'balance',
  'test_clock',
  'tax',
  'source',
  'coupon',
  'promotion_code',
  'business_name',
  'individual_name',
  'cash_balance',
  'invoice_prefix',
  'next_invoice_sequence',
  'tax_id_data',
  'validate',
];

/** A live (not deleted) customer named by a parameter (400) or the URL (404). */
export function requireCustomer(core: Core, id: string, param = 'id', status = 404): Customer {
  const c = core.store.customers.get(id);
  if (!c) throw resourceMissing('customer', id, param, status);
  return c;
}

function applyInvoiceSettings(core: Core, c: Customer, params: Params): void {
  const settings = hash(params, 'invoice_settings');
  if (!settings) return;
  const pm = nullableStr(settings, 'default_payment_method');
  if (pm === undefined) return;
  if (pm !== null) {
    const found = findPaymentMethod(core, pm, 'invoice_settings[default_payment_method]');
    if (found.customer !== c.id) {
      throw invalidRequest(
        `The customer does not have a payment method with the ID ${pm}. The payment method must be attached to the customer.`,
        {
          param: 'invoice_settings[default_payment_method]',
          code: 'resource_missing',
        },
      );
    }
  }
  c.invoice_settings.default_payment_method = pm;
}

export const customerRoutes: Route[] = [
  route('POST', '/v1/customers', (core, { params }) => {
    rejectUnknown(params, [...WRITABLE, 'payment_method', ...IGNORED]);
    const c = makeCustomer({
      email: str(params, 'email'),
      name: str(params, 'name'),
      phone: str(params, 'phone'),
      description: str(params, 'description'),
      metadata: applyMetadata(params),
    });
    core.store.customers.add(c);
    const pmId = str(params, 'payment_method');
    if (pmId) attachPaymentMethod(core, pmId, c, 'payment_method');
    applyInvoiceSettings(core, c, params);
    return { body: c };
  }),

  route('GET', '/v1/customers/:id', (core, { ids: [id] }) => {
    const deleted = core.store.deletedCustomers.get(id!);
    if (deleted) return { body: deleted };
    return { body: requireCustomer(core, id!) };
  }),

  route('POST', '/v1/customers/:id', (core, { params, ids: [id] }) => {
    rejectUnknown(params, [...WRITABLE, ...IGNORED]);
    const c = requireCustomer(core, id!);
    for (const field of ['email', 'name', 'phone', 'description'] as const) {
      const v = nullableStr(params, field);
      if (v !== undefined) c[field] = v;
    }
    c.metadata = applyMetadata(params, c.metadata);
    applyInvoiceSettings(core, c, params);
    return { body: c };
  }),

  route('DELETE', '/v1/customers/:id', (core, { ids: [id] }) => {
    const c = requireCustomer(core, id!);
    core.store.customers.byId.delete(c.id);
    const stub = { id: c.id, object: 'customer' as const, deleted: true as const };
    core.store.deletedCustomers.set(c.id, stub);
    for (const pm of core.store.paymentMethods.scope(c.id).slice()) {
      pm.customer = null;
      core.store.paymentMethods.unindex(pm, c.id);
    }
    return { body: stub };
  }),

  route('GET', '/v1/customers', (core, { params }) => {
    rejectUnknown(params, [...LIST_PARAMS, 'email', 'test_clock']);
    const email = str(params, 'email');
    return {
      body: paginate(
        core.store.customers.all,
        params,
        '/v1/customers',
        (c) => core.store.customers.byId.has(c.id) && (email === undefined || c.email === email),
      ),
    };
  }),
];
