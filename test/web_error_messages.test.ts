// The web app has a sentence for every error code the API documents, and no
// sentence for a code the API does not have (besides the app's own).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ERROR_CODES } from '../server/error_codes.ts';
import { APP_ONLY_SENTENCES, ERROR_SENTENCES, sentenceFor } from '../web/src/error_messages.ts';

test('every documented code has a sentence, and only those', () => {
  assert.equal(Object.keys(ERROR_SENTENCES).sort(), Object.keys(ERROR_CODES).sort());
  for (const code of Object.keys(APP_ONLY_SENTENCES)) assert.not.ok(code in ERROR_CODES, `${code} is the app's own`);
});

test('sentences are sentences: capitalised, ending with a full stop, no code or SQL inside', () => {
  for (const [code, sentence] of Object.entries({ ...ERROR_SENTENCES, ...APP_ONLY_SENTENCES })) {
    assert.match(sentence, /^[A-Z].*\.$/, code);
    assert.not.match(sentence, /\b(SM[A-Z]\d\d|sqlstate|constraint|null)\b/i, code);
  }
});

test("a spot taken for the window is not said to be taken by someone else: it may be the driver's own booking", () => {
  for (const code of ['SMB01', '23P01']) assert.not.match(ERROR_SENTENCES[code]!, /someone else|another driver/i, code);
  assert.match(ERROR_SENTENCES.SMB01!, /^This spot is already taken for part of that time\./);
});

test('waiting time and log reference come from the answer; unknown codes keep the API message', () => {
  assert.is(sentenceFor('SMA02', 'Too many attempts', 42), 'Too many attempts. Try again in 42 seconds.');
  assert.is(
    sentenceFor('INTERNAL', 'Internal error (reference abc123)'),
    'Something went wrong on our side (reference abc123). Please try again.',
  );
  assert.is(sentenceFor('SMX99', 'A future message.'), 'A future message.');
});

test('too many attempts: the API says what was limited; a wait over 90 seconds is given in minutes, rounded up', () => {
  // As the API words them: sign-up (server/plugins/sign_up_gate.ts) and SQL's limits (sign-in, resets, links).
  const signUp = (s: number) => `Too many sign-ups from your address. Try again in ${s} seconds.`;
  const limited = (s: number) => `Too many attempts. Try again in ${s} seconds.`;
  assert.is(sentenceFor('SMA02', signUp(2981), 2981), 'Too many sign-ups from your address. Try again in 50 minutes.');
  assert.is(sentenceFor('SMA02', signUp(90), 90), 'Too many sign-ups from your address. Try again in 90 seconds.');
  assert.is(sentenceFor('SMA02', limited(91), 91), 'Too many attempts. Try again in 2 minutes.');
  assert.is(sentenceFor('SMA02', limited(1), 1), 'Too many attempts. Try again in 1 second.');
  assert.is(sentenceFor('SMA02', limited(3600), 3600), 'Too many attempts. Try again in 60 minutes.');
  // Without a wait, or without a message, it still reads as a sentence.
  assert.is(sentenceFor('SMA02', signUp(30)), signUp(30));
  assert.is(sentenceFor('SMA02', '', 120), 'Too many attempts. Try again in 2 minutes.');
  assert.is(sentenceFor('SMA02'), ERROR_SENTENCES.SMA02);
});

test.run();
