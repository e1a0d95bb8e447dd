// What the code under test logs in this process: the JSON lines the logger
// (lib/logger.ts) writes to process.stdout while `fn` runs, parsed. They are
// still printed, so a failing test's output shows them.
export type LogLine = Record<string, unknown> & { level: number; msg: string };

export async function captureLogs<T>(fn: () => Promise<T>): Promise<{ result: T; lines: LogLine[] }> {
  const lines: LogLine[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    for (const text of String(chunk).split('\n')) {
      if (text.startsWith('{')) lines.push(JSON.parse(text) as LogLine);
    }
    return (write as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
  }) as typeof process.stdout.write;
  try {
    return { result: await fn(), lines };
  } finally {
    process.stdout.write = write;
  }
}
