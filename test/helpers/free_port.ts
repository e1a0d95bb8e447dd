// A free TCP port for a process started later: the tests' child processes and
// the benches' (an API, a PostgreSQL cluster of their own).
import { createServer } from 'node:net';

/** Ports below the kernel's ephemeral range (32768-60999), where outgoing connections take theirs. */
const FIRST_PORT = 20_000;
const PORTS = 12_000;

/** Whether a TCP port on 127.0.0.1 can be listened on now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A free TCP port on 127.0.0.1 for a process started later (or an API restarted on the same
 * address). Drawn below the ephemeral range: a port the kernel hands out (listen on 0) is one
 * the next outgoing connection of any test (a pg client to 5432) may take before the process
 * binds it, seen as EADDRINUSE when npm start bound its ports seconds after provisioning.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = FIRST_PORT + Math.floor(Math.random() * PORTS);
    if (await canListen(port)) return port;
  }
}
