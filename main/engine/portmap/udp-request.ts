/**
 * One UDP request/answer exchange with a gateway, for NAT-PMP (RFC 6886 §3.1)
 * and PCP (RFC 6887 §8.1.1): send, wait, resend with a doubling delay starting
 * at 250 ms, until an answer that `accept` takes arrives, the tries run out, or
 * `signal` aborts. Each exchange uses its own ephemeral socket, so answers to
 * other exchanges never mix in. Datagrams from any address other than the
 * gateway's are ignored.
 */
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';

export interface UdpExchangeOptions<T> {
  host: string;
  port: number;
  request: Uint8Array;
  /** Return a value to finish with it, or undefined to keep waiting (not ours, or unparsable). */
  accept: (msg: Buffer) => T | undefined;
  /** First wait before resending. @default 250 */
  initialWaitMs?: number;
  /** Sends in total. @default 3 (250 + 500 + 1000 ms) */
  tries?: number;
  signal?: AbortSignal;
}

/** Resolves with accept's value, or undefined after the last wait. Rejects only on abort or a socket error. */
export function udpExchange<T>(o: UdpExchangeOptions<T>): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIPv6(o.host) ? 'udp6' : 'udp4');
    let timer: NodeJS.Timeout | undefined;
    let wait = o.initialWaitMs ?? 250;
    let left = o.tries ?? 3;
    let done = false;
    const finish = (err: Error | null, value?: T) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      socket.close();
      if (err) reject(err);
      else resolve(value);
    };
    const onAbort = () => finish(o.signal?.reason instanceof Error ? o.signal.reason : new Error('aborted'));
    const attempt = () => {
      if (done) return;
      if (left-- <= 0) return finish(null, undefined);
      socket.send(o.request, o.port, o.host, (err) => { if (err) finish(err); });
      timer = setTimeout(attempt, wait);
      wait *= 2;
    };
    socket.on('message', (msg, rinfo) => {
      if (rinfo.address !== o.host && rinfo.address !== `::ffff:${o.host}`) return;
      let v: T | undefined;
      try {
        v = o.accept(msg);
      } catch {
        v = undefined;
      }
      if (v !== undefined) finish(null, v);
    });
    socket.on('error', (err) => finish(err));
    if (o.signal?.aborted) return onAbort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    socket.bind(0, attempt);
  });
}
