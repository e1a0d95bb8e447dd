// What the web app says for each error code the API documents
// (server/error_codes.ts; test/web_error_messages.test.ts keeps the two lists
// identical), plus NETWORK for a server that could not be reached. Written for
// the person using the app: what went wrong and what to do about it.

export const ERROR_SENTENCES: Record<string, string> = {
  SMS01: 'Those coordinates are not on the globe: latitude goes from −90 to 90 and longitude from −180 to 180.',
  SMS02: 'Choose a radius above 0 and at most 50 km (31 mi).',
  SMS03:
    'That time window cannot be searched: the end must be after the start, a stay lasts at most 7 days, and it must start within 90 days.',
  SMS04: 'This spot does not exist.',
  SMA01: 'Wrong email or password.',
  SMA02: 'Too many attempts. Wait a little and try again.',
  SMA03: 'Enter a plain email address such as name@example.com (at most 254 characters).',
  SMA04:
    'Choose a password of at least 10 characters (at most 72 bytes) that is not common, not only digits, not one character repeated and not your email. A few unrelated words work well.',
  SMA05: 'Enter a name of 1 to 100 characters, without control characters.',
  SMA06: 'An account with this email already exists. Sign in, or reset your password if you forgot it.',
  SMA07: 'This link is unknown, already used or expired. Ask for a new one.',
  SMA08: 'Sign in first.',
  SMA09: 'Your current password is not right.',
  SMA10: 'Only an admin may do this.',
  SMA11: 'Verify your email address first: follow the link we emailed you.',
  SMA12:
    'Sign-in with Google or Facebook was refused: staff must be invited by an admin first, and the provider must have confirmed your email.',
  SMA13: 'Sign-in with Google or Facebook did not complete. Please try again.',
  SMA14: 'Your session could not be confirmed. Reload the page and try again.',
  SMA15: 'Your session has ended. Sign in again.',
  SMA16: 'That role change is not possible.',
  SMA17: 'There is no such user.',
  SMA18: 'This site may not use the API.',
  SMA19: 'A staff role needs an account whose email is verified: ask them to verify it first, or invite them.',
  SMA20: 'Enter the password of this account to verify the address.',
  SMB01: 'This spot is already taken for part of that time. Choose another time or another spot.',
  SMB02: 'This spot cannot be booked: it does not exist or is out of service.',
  SMB03: 'That time does not work: the start cannot be in the past and the end must come after the start.',
  SMB04: "That is longer than this spot's maximum stay.",
  SMB05: 'A reservation can start at most 90 days ahead.',
  SMB06: 'We could not find this reservation for you. Sign in as its driver, or open the link from your email.',
  SMB07: 'This reservation can no longer be changed: it is over, cancelled or expired.',
  SMB08: 'Enter a valid email address: we send the reservation there.',
  SMB09:
    'Not possible right now: a new end must still be ahead, a reservation that has not started is cancelled rather than ended, and one that has started is ended rather than cancelled.',
  SMB10: 'Only operators may block spots.',
  SMB11: 'Sign in to see your reservations. As a guest, open the link from your email.',
  SMB12: 'You already have several reservations waiting for a card. Finish or cancel one of them first.',
  SMB13: 'You have an unpaid reservation. Pay it with another card before booking again or staying longer.',
  SMP02: 'This reservation takes no card now.',
  SMP03: 'The card set-up is not finished yet. Complete it, then try again.',
  SMP04: 'The payment service could not be reached. Nothing was charged twice; please try again.',
  SMP05: 'Only operators may refund.',
  SMP06: 'There is nothing left to refund.',
  SMP07: 'Another refund of this reservation is in progress.',
  SMP08: 'Your card was refused. Try another card.',
  SMP09: 'This card already pays for as many upcoming reservations as we allow. Use another card below.',
  SMP10: 'This card has an unpaid reservation, so it cannot pay for another one. Use another card below.',
  SMC01: 'Only staff may manage customers.',
  SMC02: 'A customer with this email already exists.',
  SMC03: 'There is no such customer.',
  SMC04: 'Give a name and a surname of 1 to 100 characters.',
  SMC05: 'A note has 1 to 2000 characters.',
  SMC06: 'Type 1 to 200 characters to search.',
  SMO01: 'Only operators may manage spots and rates.',
  SMO02: 'This spot is outside your zones.',
  SMO03: 'There is no such spot.',
  SMO04: 'Zones can be given to operators only.',
  SMO05: 'A maximum stay is 1 minute to 7 days.',
  SMO06: 'There is no such rate.',
  SMO07: 'A spot is either active or out of service.',
  SMO08: 'One of the rate values is not allowed.',
  SMO09: 'A rate with this code already exists.',
  SMO10: 'Give the boroughs this operator works in, each by name (none: everywhere).',
  SMO11: 'Give the street of the spot.',
  SMO12: 'This rate belongs to spots in another zone. Choose a rate of your own.',
  SME01: 'Check the licence plate and its state.',
  SME02: 'Only enforcement officers may look plates up.',
  SME03: 'There is no such vehicle on your account.',
  SMU01: 'The photo is too large.',
  SMU02: 'Only JPEG, PNG and WebP photos can be uploaded.',
  SMU03: 'The image has too many pixels.',
  SMU04: 'The image could not be read.',
  SMU05: 'This customer has no photo.',
  SMH01: 'This page needs the metrics token.',
  SMQ01: 'This request asks for too much at once (nested too deep).',
  SMQ02: 'This request asks for too much at once (too many aliases).',
  SMQ03: 'This request asks for too much at once. Ask for fewer results.',
  SMQ04: 'Ask for at most 100 results at a time.',
  SMQ05: 'Send one request at a time.',
  SMQ06: 'This server does not describe its schema.',
  SMQ07: 'This list has changed. Please reload it.',
  SMV01: 'That map area cannot be watched live: zoom in and try again.',
  SMV02: 'Too many live views are open: close one and try again.',
  SMV03: 'Live updates carry no other requests: reload the page.',
  SMV04: 'Live updates could not resume: reload the page.',
  SMV05: 'Live updates could not start: reload the page.',
  '23505': 'That value is already taken.',
  '23514': 'One of the values is not allowed here.',
  '23502': 'A required value is missing.',
  '23P01': 'This spot is already taken for part of that time.',
  '42501': 'You are not allowed to do this.',
  '22P02': 'One of the values has the wrong format.',
  '22007': 'A date or time has the wrong format.',
  '22008': 'A date or time is out of range.',
  '22021': 'A text contains characters that are not allowed.',
  '22001': 'This text is too long.',
  '22003': 'A number is too large.',
  '22009': 'That time zone offset does not exist.',
  '57014': 'That took too long and was stopped; nothing was changed. Please try again.',
  GRAPHQL_VALIDATION_FAILED: 'The app sent a request the server did not understand. Reload the page and try again.',
  INTERNAL: 'Something went wrong on our side. Please try again.',
};

/** Errors only the app itself raises. */
export const APP_ONLY_SENTENCES: Record<string, string> = {
  NETWORK: 'The server could not be reached. Check your connection and try again.',
  GEOLOCATION: 'Your location is not available: allow this site to use it, or type coordinates.',
};

/**
 * SMA02: the API's own message, which says what was limited (sign-ups from
 * this address, sign-in attempts…), with the wait in minutes once it is long:
 * nobody reads "2981 seconds" as 50 minutes.
 */
function tooManyAttempts(serverMessage: string, retryAfter?: number): string {
  if (!retryAfter) return serverMessage || ERROR_SENTENCES.SMA02!;
  // The API's message ends with the wait in seconds: said again below, in the unit that reads.
  const what = serverMessage.replace(/\s*Try again in \d+ seconds?\.?$/i, '') || 'Too many attempts.';
  const wait =
    retryAfter > 90 ? `${Math.ceil(retryAfter / 60)} minutes` : `${retryAfter} second${retryAfter === 1 ? '' : 's'}`;
  return `${/[.!?]$/.test(what) ? what : `${what}.`} Try again in ${wait}.`;
}

/** The sentence for a code; waiting time and log reference are taken from the server's answer. */
export function sentenceFor(code: string, serverMessage = '', retryAfter?: number): string {
  if (code === 'SMA02') return tooManyAttempts(serverMessage, retryAfter);
  if (code === 'INTERNAL') {
    const reference = /reference ([\w-]+)/i.exec(serverMessage)?.[1];
    return reference
      ? `Something went wrong on our side (reference ${reference}). Please try again.`
      : ERROR_SENTENCES.INTERNAL!;
  }
  // A code added to the API after this build: the API's own message is still meant for people.
  return ERROR_SENTENCES[code] ?? APP_ONLY_SENTENCES[code] ?? (serverMessage || ERROR_SENTENCES.INTERNAL!);
}

/** SMS04 on the plate check: the officer typed the number on a meter's sign. */
export const METER_UNKNOWN = 'No meter with this number.';
