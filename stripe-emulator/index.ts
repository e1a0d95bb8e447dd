// Public entry of the Stripe emulator (see server.ts for options, control.ts for /_emulator routes).
export { startStripeEmulator, DEFAULT_API_VERSION, type StripeEmulator, type StripeEmulatorOptions } from './server.ts';
export { signatureHeader } from './webhooks.ts';
export type { EmulatorState } from './state.ts';
export type { FaultSpec, FaultMode } from './faults.ts';
export { TEST_CARDS } from './cards.ts';
