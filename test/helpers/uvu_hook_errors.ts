// Loaded before every test file (test/helpers/run_file.ts). uvu runs a suite's
// `before` hooks inside a try whose `finally` returns, so an error thrown by a
// hook (a product that failed to start) is dropped: the file shows
// "(0 / N)" and no reason. This prints the error before uvu drops it.
import { test } from 'uvu';

const addBefore = test.before;
test.before = Object.assign(
  (hook: Parameters<typeof addBefore>[0]) =>
    addBefore(async (state) => {
      try {
        await hook(state);
      } catch (err) {
        console.error('test.before failed:', err);
        throw err;
      }
    }),
  { each: addBefore.each },
);
