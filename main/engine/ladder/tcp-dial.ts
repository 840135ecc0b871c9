/** Open a TCP connection with a timeout and an abort signal; errors say where and why. */
import { connect, type Socket } from 'node:net';
import { EngineError } from '../errors.js';
import { formatHostPort } from '../net/addresses.js';

export function dialTcp(ip: string, port: number, timeoutMs: number, signal?: AbortSignal, localPort?: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const target = formatHostPort(ip, port);
    if (signal?.aborted) return reject(new EngineError('CANCELLED', 'cancelled'));
    const socket = connect({ host: ip, port, ...(localPort ? { localPort } : {}) });
    socket.setNoDelay(true);
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
      socket.off('connect', onConnect);
    };
    const onAbort = () => {
      cleanup();
      socket.destroy();
      reject(new EngineError('CANCELLED', 'cancelled'));
    };
    const onError = (err: NodeJS.ErrnoException) => {
      cleanup();
      socket.destroy();
      const why = err.code === 'ECONNREFUSED' ? 'refused (nothing listening, or a firewall rejected it)'
        : err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH' ? 'unreachable from here'
        : err.message;
      reject(new EngineError(err.code ?? 'DIAL_FAILED', `${target} ${why}`));
    };
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    const timer = setTimeout(() => {
      cleanup();
      socket.destroy();
      reject(new EngineError('DIAL_TIMEOUT', `${target} did not answer within ${timeoutMs} ms (filtered or not there)`));
    }, timeoutMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', onError);
    socket.once('connect', onConnect);
  });
}
