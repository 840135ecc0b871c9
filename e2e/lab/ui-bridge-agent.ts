/**
 * Runs inside a lab host's namespace: accepts connections on a Unix socket (a
 * file, so the test process in the root namespace can reach it) and pipes each
 * one to 127.0.0.1:PORT in this namespace, where `postern host` serves its UI.
 * Nothing is routed between the namespaces: only this one port's bytes cross.
 *
 *   node --import tsx e2e/lab/ui-bridge-agent.ts /tmp/x/ui-a1.sock 41000
 */
import { connect, createServer } from 'node:net';
import { rmSync } from 'node:fs';

const [socketPath, portText] = process.argv.slice(2);
const port = Number(portText);
if (!socketPath || !Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write('usage: ui-bridge-agent.ts SOCKET PORT\n');
  process.exit(2);
}
rmSync(socketPath, { force: true });
const server = createServer((client) => {
  const upstream = connect(port, '127.0.0.1');
  client.pipe(upstream);
  upstream.pipe(client);
  const close = () => { client.destroy(); upstream.destroy(); };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
});
server.listen(socketPath, () => process.stdout.write('ready\n'));
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// The owner died: nothing left to serve.
process.stdin.on('end', stop);
process.stdin.resume();
