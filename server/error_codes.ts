// The errors a client may see, by code. SQL raises these SQLSTATEs on purpose
// (`raise exception … using errcode = 'SMS01'`); server/mask_error.ts passes
// them through with their message, and hides every other error. README's
// error table lists exactly these (test/error_codes.test.ts checks).

export const ERROR_CODES: Record<string, string> = {
  // Search and prices
  SMS01: 'Coordinates missing or off the globe (latitude −90…90, longitude −180…180).',
  SMS02: 'Radius missing, not above 0, or above the 50 km (31 mi) maximum.',
  SMS03:
    'Time window not bookable: missing bound, end not after start, longer than 7 days, or starting more than 90 days ahead.',
  SMS04: "No such spot (search, quotes, saveSpot, the plate lookup's spot or meter number, or both given).",
  // Accounts and sign-in
  SMA01: 'Wrong email or password (the same answer for both); HTTP 401 from POST /auth/login.',
  SMA02:
    'Too many attempts (sign-in, sign-up, password reset, changePassword, verification email, guest manage link); retry after the seconds given (Retry-After header on /auth routes, extensions.retryAfter in GraphQL).',
  SMA03: 'Not an email address we accept: plain ASCII local@domain.tld, at most 254 characters.',
  SMA04:
    'Password rule not met: at least 10 characters, at most 72 bytes, not one repeated character, not the email, not digits only, not a common password (alone or with digits or symbols appended).',
  SMA05: 'Name must be 1 to 100 characters without control or invisible formatting characters.',
  SMA06: 'An account with this email already exists.',
  SMA07: 'Email link (verification, password reset, invitation) unknown, already used or expired.',
  SMA08: 'Sign in first.',
  SMA09: 'The current password given to changePassword (`oldPassword`) is wrong.',
  SMA10: 'Only an admin may do this.',
  SMA11: 'Verify your email address first.',
  SMA12:
    'Sign-in with Google/Facebook refused: staff email not pre-registered by an admin, or the provider did not verify the email of an existing account.',
  SMA13:
    'Sign-in with Google/Facebook failed: state missing, wrong or reused, provider error, or a token that does not verify.',
  SMA14: 'Cookie-authenticated request without the right X-CSRF-Token header (HTTP 403).',
  SMA15: 'Bearer token unknown, revoked or expired: sign in again (HTTP 401).',
  SMA16: 'Not a role change that can be made: unknown role, or an admin changing their own role.',
  SMA17: 'No such user (updateUser: not your own account; setOperatorZones, setUserRole: unknown id).',
  SMA18: 'Request from an origin that is not allowed (CORS; HTTP 403).',
  SMA19: 'A staff role (anything but driver) goes only to an account that has verified its email.',
  SMA20:
    "verifyEmail signed out of the account and without its password (or a wrong one): the link proves the inbox, the password the account. Didn't sign up? forgotPassword with the address makes the account yours.",
  // Booking
  SMB01: 'Spot taken: another reservation or an operator block overlaps that time (also when extending).',
  SMB02:
    'No such spot, or the spot is out of service (no new reservation; one made before may be shortened, not extended).',
  SMB03:
    'Bad reservation window: start in the past, end not after start, both or neither of end and duration, a window under 1 minute (by duration or end, or a changed end), not a real date.',
  SMB04:
    "Longer than the spot's maximum stay, counting the same driver's (or guest email's), or the same plate's (whatever its state), stays on that spot less than an hour apart as one, those already over included, as long as they were used (blocks: longer than 366 days).",
  SMB05: 'Start more than 90 days ahead.',
  SMB06:
    "No such reservation for you: unknown id, someone else's, a block, or wrong manage token (every read, change, end, cancel, card set-up and refund of a reservation answers this).",
  SMB07: 'The reservation can no longer be changed: it is over, cancelled, expired or completed.',
  SMB08: 'Guest reservation without a valid email address (the rule of SMA03: plain ASCII local@domain.tld).',
  SMB09:
    'Not at this time: new end already passed, ending one not started (cancel it; reservationEndQuote without an end too), cancelling one started (end it), changing the vehicle of a hold already started (give a card first).',
  SMB10: 'Operators only (spot blocks).',
  SMB11: 'Sign-in required (my reservations); guests use the reservation id and manage token.',
  SMB12:
    'Too many holds: at most 3 held reservations at once per guest email address or signed-in driver (their own), and 10 per client address (HOLDS_PER_ADDRESS); or more than 10 guest reservations for one email in the last hour.',
  SMB13:
    'You have an unpaid reservation (its charge failed): pay it with another card before booking again, or before extending a reservation you booked (or one on the same card).',
  // Payments
  SMP02:
    'The reservation takes no card now: only a held reservation, or one whose payment failed, can be set up (once a card is set up, asking again answers that same set-up).',
  SMP03: 'Card set-up not finished: call setupReservationPayment, complete it in the browser, then confirm.',
  SMP04: 'The payment provider could not be reached or failed; nothing was changed twice — try again.',
  SMP05: 'Only operators may refund.',
  SMP06: 'Nothing to refund: no successful charge, or the amount is not within what remains refundable.',
  SMP07: 'Another refund of this reservation is in progress (retry it with the same amount).',
  SMP08:
    'The card was refused by the payment provider (confirmReservationPayment after a set-up the bank declined; the message carries its reason).',
  SMP09:
    'This card already backs CARD_UPCOMING_MAX (10) confirmed reservations still to come: the reservation stays held; give another card (setupReservationPayment starts a new set-up on the same hold), or confirm again once one of them is over.',
  SMP10:
    'This card has an unpaid reservation whose charge failed: it confirms no other reservation until that one is paid (with another card); the reservation stays held: give another card (setupReservationPayment starts a new set-up on the same hold), or confirm again once that one is paid.',
  // Query cost (server/query_limits.ts)
  SMQ01:
    'Query nested too deep: fields at most 10 deep, and braces, brackets and parentheses at most 64 deep in the text.',
  SMQ02: 'Too many aliases: at most 20 in one operation.',
  SMQ03:
    'Query too big: at most 250 fields, and at most 2,000 rows from its connections (page sizes multiplied through nested connections).',
  SMQ04:
    'Page size out of range: first and last from 0 to 100 on every connection (100 when neither is given); offset not negative.',
  SMQ05:
    'Batched request (a JSON array of operations): send one operation per request. (A document may define several operations, as GraphQL allows; `operationName` picks the one that runs.)',
  SMQ06: 'Introspection is turned off (GRAPHQL_INTROSPECTION; off in production).',
  SMQ07: 'A cursor (after/before) this list did not give out: use pageInfo.endCursor or startCursor of the same query.',
  // Customers, operators' spots and rates, vehicles and enforcement
  SMC01: 'Only operators and admins may manage customers.',
  SMC02: 'A customer with this email already exists.',
  SMC03: 'No such customer: unknown id, or soft-deleted (restoreCustomer: no deleted customer with this id).',
  SMC04: 'A customer needs a name and a surname of 1 to 100 characters without control characters.',
  SMC05: 'A note has 1 to 2000 characters.',
  SMC06: 'A customer search needs 1 to 200 characters.',
  SMO01: 'Only operators and admins manage spots and rates.',
  SMO02: 'Outside your zones: the spot (or borough, or a spot using the rate) is in a borough you are not assigned to.',
  SMO03: 'No such spot (spot management).',
  SMO04: 'Zones can be given to operators only.',
  SMO05: 'A maximum stay is 1 minute to 7 days.',
  SMO06: 'No such rate.',
  SMO07: 'A spot status is active or out_of_service.',
  SMO08:
    'Bad rate: an hourly price or minimum charge outside 0–500,000 minor units, a currency that cannot be charged, billing increment outside 1–60 minutes, a missing or blank code or name, an unknown time zone (left out: America/New_York), or malformed (an opening or closing time left out) or overlapping metered hours.',
  SMO09: 'A rate with this code already exists.',
  SMO10: 'Bad operator zones: the list left out (an empty list means everywhere), or a blank borough.',
  SMO11: 'A spot needs its street, 1 to 200 characters (createSpot, updateSpot).',
  SMO12:
    "A rate whose spots are all in another operator's zones: putting your spot on it (createSpot, updateSpot with rateId or borough) would take the rate from them. Use a rate of your own.",
  SME01:
    'Bad vehicle: a plate is 1 to 10 letters and digits (spaces, dashes and dots ignored), a state 2 or 3 letters (and only with a plate), a label 1 to 50 characters.',
  SME02: 'Only enforcement officers (and admins) may look plates up.',
  SME03: 'No such vehicle of yours.',
  SMU01: 'Photo upload larger than PHOTO_MAX_BYTES (HTTP 413).',
  SMU02:
    'Not a JPEG, PNG or WebP photo, judged from its content; or sent under another image type than its content (a renamed file) (HTTP 415).',
  SMU03: 'The image declares more pixels than PHOTO_MAX_PIXELS (a decompression bomb) (HTTP 422).',
  SMU04: 'The image could not be decoded (HTTP 422).',
  SMU05: 'The customer has no photo (HTTP 404).',
  SMH01: 'GET /metrics without the METRICS_TOKEN bearer token (HTTP 401).',
  // Live availability (GET /live/spots, Subscription.spotAvailability)
  SMV01:
    'Bad live area: give minLat, minLng, maxLat, maxLng or lat, lng, radius (km, at most 50), one set whole and not mixed with the other, on the globe, covering at most LIVE_MAX_TILES tiles of 0.05°.',
  SMV02:
    'Too many live streams for this client: at most LIVE_MAX_PER_CLIENT SSE streams, subscriptions and websockets at once per client address and per signed-in account (HTTP 429).',
  SMV03: 'Websockets carry subscriptions only: send queries and mutations with HTTP POST /graphql.',
  SMV04: 'Last-Event-ID is not an event id of this stream.',
  SMV05:
    'Subscriptions run over the websocket (graphql-transport-ws on /graphql), not over HTTP; or use GET /live/spots.',
  // PostgreSQL's own, when a rule in the schema refuses a write
  '23505': 'A unique value is already taken (e.g. an email address).',
  '23514': 'A value breaks a rule of the schema (check constraint).',
  '23502': 'A required value is missing.',
  '23P01': 'Overlaps an existing reservation (exclusion constraint).',
  '42501': 'Not allowed for the current user (permissions or row level security).',
  '22P02': 'A value has the wrong format (e.g. a malformed number or id).',
  '22007': 'A date or time has the wrong format.',
  '22008': 'A date or time is out of range.',
  '22021': 'A text value contains a NUL character or is not valid UTF-8.',
  '22001': 'A text is longer than the field or filter allows (e.g. a history or audit filter).',
  '22003': 'A number is out of range (e.g. an id past 9223372036854775807).',
  '22009': 'A time zone offset is out of range (at most ±15:59).',
  '57014': 'The request ran longer than the database allows (15 s) and was cancelled; nothing was changed.',
  // Added by the API itself
  GRAPHQL_VALIDATION_FAILED:
    'The query does not fit the schema, or a variable has the wrong type (a Datetime must be ISO 8601 with a UTC offset, e.g. 2026-12-03T10:00:00Z or 2026-12-03T05:00:00-05:00: words such as `yesterday`, and times without Z or ±hh:mm, are refused).',
  INTERNAL: 'Unexpected error; the message carries a reference to the server log.',
};
