// The Stripe emulator's limits, from the environment (read by `npm start`
// and by the standalone emulator, stripe-emulator/main.ts). Off unless set:
//   STRIPE_EMULATOR_RATE_LIMITS   off | test | live (Stripe's test-mode 25/s, or live mode's 100/s)
//   STRIPE_EMULATOR_RATE_GLOBAL   requests a second over the whole API (over the profile; 0 = none)
//   STRIPE_EMULATOR_RATE_ENDPOINT requests a second on each endpoint (0 = none)
//   STRIPE_EMULATOR_CONCURRENCY   requests in flight at once (0 = none)
//   STRIPE_EMULATOR_LATENCY_MS    how long each request takes before its answer (default 0)
import { intVar, oneOfVar } from './env.ts';

export interface EmulatorLimitsConfig {
  rateLimits: { profile: 'off' | 'test' | 'live'; global?: number; perEndpoint?: number; concurrency?: number };
  latencyMs: number;
}

export function emulatorLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): EmulatorLimitsConfig {
  const optional = (name: string) => (env[name] ? intVar(env, name, 0, 0, 100_000) : undefined);
  return {
    rateLimits: {
      profile: oneOfVar(env, 'STRIPE_EMULATOR_RATE_LIMITS', ['off', 'test', 'live'], 'off'),
      global: optional('STRIPE_EMULATOR_RATE_GLOBAL'),
      perEndpoint: optional('STRIPE_EMULATOR_RATE_ENDPOINT'),
      concurrency: optional('STRIPE_EMULATOR_CONCURRENCY'),
    },
    latencyMs: intVar(env, 'STRIPE_EMULATOR_LATENCY_MS', 0, 0, 60_000),
  };
}
