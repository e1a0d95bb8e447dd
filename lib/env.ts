// Configuration read from the environment, checked: a variable that is set but
// unusable stops the process at start-up with a message naming it, instead of
// quietly becoming something else (API_POOL_SIZE=abc used to become 10).
// Unset variables take their documented defaults (README, Configuration).

export class ConfigError extends Error {}

type Env = NodeJS.ProcessEnv;

function bad(name: string, value: string, expected: string): ConfigError {
  return new ConfigError(`Configuration: ${name} must be ${expected}, not ${JSON.stringify(value)}`);
}

/** A whole number within [min, max]. */
export function intVar(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value.trim()) || Number(value) < min || Number(value) > max) {
    throw bad(
      name,
      value,
      max === Number.MAX_SAFE_INTEGER ? `a whole number of at least ${min}` : `a whole number from ${min} to ${max}`,
    );
  }
  return Number(value);
}

/** true/false, also written 1/0, on/off, yes/no. */
export function boolVar(env: Env, name: string, fallback: boolean): boolean {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const v = value.trim().toLowerCase();
  if (['1', 'true', 'on', 'yes'].includes(v)) return true;
  if (['0', 'false', 'off', 'no'].includes(v)) return false;
  throw bad(name, value, 'true or false (or 1/0, on/off, yes/no)');
}

/** One of a few words. */
export function oneOfVar<T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T;
export function oneOfVar<T extends string>(env: Env, name: string, choices: readonly T[]): T | undefined;
export function oneOfVar<T extends string>(env: Env, name: string, choices: readonly T[], fallback?: T): T | undefined {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (!(choices as readonly string[]).includes(value)) throw bad(name, value, choices.join(' or '));
  return value as T;
}

/** An absolute URL (checked by parsing it), with one of the given protocols. */
export function urlVar(
  env: Env,
  name: string,
  fallback: string,
  protocols: readonly string[] = ['http:', 'https:'],
): string {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad(name, value, `an absolute URL (${protocols.map((p) => `${p}//…`).join(' or ')})`);
  }
  if (!protocols.includes(url.protocol))
    throw bad(name, value, `a URL starting ${protocols.map((p) => `${p}//`).join(' or ')}`);
  return value;
}

/**
 * Runs the loaders of a process's configuration at start-up; a ConfigError is
 * printed alone (no stack: the message says what to fix) and ends the process.
 */
export function configOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exit(1);
  }
}
