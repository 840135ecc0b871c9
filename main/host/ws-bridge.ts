/**
 * The headless host's side of the bridge: each WebSocket client gets every
 * contract event as `{ t: 'event', name, payload }` and sends commands as
 * `{ t: 'call', id, name, request }`, answered with `{ t: 'result', id, result }`.
 * The same dispatch as Electron's ipcMain (dispatch.ts): same allow-list,
 * validation and errors-as-data. Upgrades are checked by the caller (guard.ts).
 */
import { WebSocketServer, type WebSocket } from 'ws';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CommandHandlers } from '../../shared/ipc/contract.js';
import type { WsClientFrame, WsServerFrame } from '../../shared/ipc/bridge.js';
import type { AppService } from './service.js';
import { dispatch } from './dispatch.js';

const MAX_FRAME_BYTES = 1024 * 1024;

export class WsBridge {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });

  constructor(private readonly service: AppService, private readonly handlers: CommandHandlers) {
    this.wss.on('connection', (ws) => this.onConnection(ws));
  }

  get clients(): number {
    return this.wss.clients.size;
  }

  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
  }

  private onConnection(ws: WebSocket): void {
    const send = (frame: WsServerFrame) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
    };
    const off = this.service.addSink((name, payload) => send({ t: 'event', name, payload }));
    ws.on('close', off);
    ws.on('error', off);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(1003, 'text frames only');
      let frame: WsClientFrame;
      try {
        frame = JSON.parse(String(data)) as WsClientFrame;
      } catch {
        return ws.close(1007, 'not JSON');
      }
      if (frame?.t !== 'call' || !Number.isSafeInteger(frame.id)) return ws.close(1008, 'unexpected frame');
      void dispatch(this.handlers, frame.name, frame.request).then((result) => send({ t: 'result', id: frame.id, result }));
    });
  }

  close(): void {
    for (const ws of this.wss.clients) ws.close(1001, 'host stopping');
    this.wss.close();
  }
}
