// A small Stripe.js-compatible script, served by the Stripe emulator at GET /v3/ so a web
// client runs the same code against the emulator and against real Stripe
// (<script src="https://js.stripe.com/v3/">). The subset this project uses:
//
//   const stripe = Stripe('pk_test_…');
//   await stripe.confirmCardSetup(clientSecret, { payment_method: 'pm_card_visa' });
//   const card = stripe.elements().create('card'); card.mount('#card');
//   await stripe.confirmCardSetup(clientSecret, { payment_method: { card } });
//   await stripe.retrieveSetupIntent(clientSecret);
//   await stripe.createPaymentMethod({ type: 'card', card });
//
// Answers are Stripe.js's: `{ setupIntent }` / `{ paymentMethod }`, or `{ error }` with
// Stripe's error object (type, code, decline_code, message, setup_intent). The publishable
// key travels as the `key` parameter of form-encoded requests, as Stripe.js sends it. A
// 3-D Secure step (test card pm_card_authenticationRequiredOnSetup, 4000 0025 0000 3155)
// asks the person with window.confirm, where there is one, and completes it at the emulator.
((root) => {
  var API = '__STRIPE_EMULATOR_URL__';

  /** Stripe's form encoding: nested objects as a[b][c]=v. */
  function encode(value, prefix, out) {
    if (value === undefined || value === null) return out;
    if (typeof value === 'object') {
      Object.keys(value).forEach((k) => {
        encode(value[k], prefix ? prefix + '[' + k + ']' : k, out);
      });
    } else {
      out.append(prefix, String(value));
    }
    return out;
  }

  function call(key, method, path, params) {
    var body = encode(Object.assign({ key: key }, params || {}), '', new URLSearchParams());
    var request =
      method === 'GET'
        ? fetch(API + path + '?' + body.toString())
        : fetch(API + path, {
            method: method,
            body: body.toString(),
            headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          });
    return request.then(
      (res) => res.json().then((json) => (res.ok ? { object: json } : { error: json.error })),
      (err) => ({
        error: { type: 'api_connection_error', message: 'Could not reach the payment provider: ' + err.message },
      }),
    );
  }

  /** seti_… out of seti_…_secret_…. */
  function intentId(clientSecret) {
    var m = /^((seti|pi)_[A-Za-z0-9]+)_secret_/.exec(String(clientSecret || ''));
    return m ? m[1] : null;
  }

  function invalidSecret() {
    return Promise.resolve({
      error: {
        type: 'invalid_request_error',
        code: 'parameter_invalid',
        message:
          'Invalid value for confirmCardSetup: clientSecret should be a client secret of the form <id>_secret_<secret>.',
      },
    });
  }

  // --- Elements: a minimal card element (number, expiry MM/YY, CVC) ---------------------------

  function CardElement() {
    this._values = { number: '', expiry: '', cvc: '' };
    this._handlers = {};
    this._node = null;
  }
  CardElement.prototype.mount = function (target) {
    var doc = root.document;
    var parent = typeof target === 'string' ? doc.querySelector(target) : target;
    if (!parent) throw new Error('Stripe emulator: no element to mount the card element into: ' + target);
    var node = doc.createElement('div');
    node.setAttribute('class', 'StripeElement StripeElement--emulator');
    [
      ['number', 'Card number', 'cc-number', '4242 4242 4242 4242'],
      ['expiry', 'Expiry (MM / YY)', 'cc-exp', 'MM / YY'],
      ['cvc', 'CVC', 'cc-csc', 'CVC'],
    ].forEach((f) => {
      var input = doc.createElement('input');
      input.setAttribute('name', 'card-' + f[0]);
      input.setAttribute('aria-label', f[1]);
      input.setAttribute('autocomplete', f[2]);
      input.setAttribute('inputmode', 'numeric');
      input.setAttribute('placeholder', f[3]);
      input.addEventListener('input', () => {
        this._values[f[0]] = input.value;
        this._emit('change', this._state());
      });
      node.appendChild(input);
    });
    parent.appendChild(node);
    this._node = node;
    this._emit('ready', {});
  };
  CardElement.prototype.unmount = function () {
    if (this._node?.parentNode) this._node.parentNode.removeChild(this._node);
    this._node = null;
  };
  CardElement.prototype.destroy = CardElement.prototype.unmount;
  CardElement.prototype.on = function (event, handler) {
    (this._handlers[event] = this._handlers[event] || []).push(handler);
    return this;
  };
  CardElement.prototype._emit = function (event, payload) {
    (this._handlers[event] || []).forEach((h) => {
      h(payload);
    });
  };
  CardElement.prototype._state = function () {
    var v = this._values;
    var complete =
      /^[\d\s-]{13,23}$/.test(v.number) && /^\s*\d{1,2}\s*\/\s*\d{2,4}\s*$/.test(v.expiry) && /^\d{3,4}$/.test(v.cvc);
    return { elementType: 'card', empty: !v.number && !v.expiry && !v.cvc, complete: complete, error: undefined };
  };
  CardElement.prototype._card = function () {
    var exp = /^\s*(\d{1,2})\s*\/\s*(\d{2,4})\s*$/.exec(this._values.expiry) || [];
    return { number: this._values.number, exp_month: exp[1], exp_year: exp[2], cvc: this._values.cvc };
  };

  function Elements() {
    this._card = null;
  }
  Elements.prototype.create = function (type) {
    if (type !== 'card') throw new Error('Stripe emulator: only the card element is available, not ' + type);
    this._card = new CardElement();
    return this._card;
  };
  Elements.prototype.getElement = function (type) {
    return type === 'card' ? this._card : null;
  };

  // --- Stripe(pk) ---------------------------------------------------------------------------

  function Stripe(publishableKey) {
    if (!(this instanceof Stripe)) return new Stripe(publishableKey);
    if (!/^pk_/.test(String(publishableKey || '')))
      throw new Error('Stripe emulator: Stripe() needs a publishable key (pk_test_…).');
    this._key = publishableKey;
  }

  Stripe.prototype.elements = () => new Elements();

  Stripe.prototype.createPaymentMethod = function (data) {
    var card = data?.card;
    if (!(card instanceof CardElement)) {
      return Promise.resolve({
        error: {
          type: 'invalid_request_error',
          message: 'createPaymentMethod needs { type: "card", card: cardElement }.',
        },
      });
    }
    return call(this._key, 'POST', '/v1/payment_methods', {
      type: 'card',
      card: card._card(),
      billing_details: data.billing_details,
    }).then((r) => (r.error ? { error: r.error } : { paymentMethod: r.object }));
  };

  Stripe.prototype.retrieveSetupIntent = function (clientSecret) {
    var id = intentId(clientSecret);
    if (!id) return invalidSecret();
    return call(this._key, 'GET', '/v1/setup_intents/' + id, { client_secret: clientSecret }).then((r) =>
      r.error ? { error: r.error } : { setupIntent: r.object },
    );
  };

  /** The payment_method parameter: an id as given, or a new PaymentMethod from the card element. */
  Stripe.prototype._paymentMethodId = function (data) {
    var pm = data?.payment_method;
    if (pm === undefined || typeof pm === 'string') return Promise.resolve({ id: pm });
    return this.createPaymentMethod({ type: 'card', card: pm.card, billing_details: pm.billing_details }).then((r) =>
      r.error ? { error: r.error } : { id: r.paymentMethod.id },
    );
  };

  Stripe.prototype.confirmCardSetup = function (clientSecret, data) {
    var id = intentId(clientSecret);
    if (!id) return invalidSecret();
    return this._paymentMethodId(data).then((pm) => {
      if (pm.error) return { error: pm.error };
      var params = { client_secret: clientSecret, payment_method: pm.id, return_url: data?.return_url };
      return call(this._key, 'POST', '/v1/setup_intents/' + id + '/confirm', params).then((r) => {
        if (r.error) return { error: r.error };
        if (r.object.status !== 'requires_action') return { setupIntent: r.object };
        return this._authenticate(id, clientSecret);
      });
    });
  };

  /** The 3-D Secure step: the person says yes or no; the emulator records it. */
  Stripe.prototype._authenticate = function (id, clientSecret) {
    var ok =
      typeof root.confirm === 'function'
        ? root.confirm('Stripe emulator: complete the 3-D Secure authentication of this test card?')
        : true;
    // The emulator's helper routes answer no other origin (no CORS): a no-cors request gets
    // there, its answer stays unread, and the intent is read back with the publishable key.
    return fetch(API + '/_emulator/setup_intents/' + id + '/authenticate?outcome=' + (ok ? 'succeed' : 'fail'), {
      method: 'POST',
      mode: 'no-cors',
    })
      .then(() => this.retrieveSetupIntent(clientSecret))
      .then((r) => {
        if (r.error) return r;
        var si = r.setupIntent;
        return si.status === 'succeeded'
          ? { setupIntent: si }
          : { error: Object.assign({ setup_intent: si }, si.last_setup_error) };
      });
  };

  root.Stripe = Stripe;
})(typeof window !== 'undefined' ? window : globalThis);
