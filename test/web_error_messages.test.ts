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

test('waiting time and log reference come from the answer; unknown codes keep the API message', () => {
  assert.is(sentenceFor('SMA02', 'Too many attempts', 42), 'Too many attempts. Try again in 42 seconds.');
  assert.is(
    sentenceFor('INTERNAL', 'Internal error (reference abc123)'),
    'Something went wrong on our side (reference abc123). Please try again.',
  );
  assert.is(sentenceFor('SMX99', 'A future message.'), 'A future message.');
});

test.run();
