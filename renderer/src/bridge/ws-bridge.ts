/**
 * The bridge in a browser talking to `postern host`: the contract over one
 * WebSocket at `<page base>/ws` (the token is part of the page's path), and
 * dropped files uploaded to `<page base>/upload` into the host's staging folder.
 * It reconnects with backoff; calls made while the link is down fail at once
 * with DISCONNECTED (errors are data, as everywhere else).
 */
import type { CommandName, EventName, EventPayload } from '../../../shared/ipc/contract.js';
import type { Result, WsClientFrame, WsServerFrame } from '../../../shared/ipc/bridge.js';
import type { DroppedItem, LinkStatus, RendererBridge } from './types.js';

const DISCONNECTED = { code: 'DISCONNECTED', message: 'Lost the link to the Postern host. Check that `postern host` is still running; this page reconnects by itself.' };

export function wsBridge(base: URL): RendererBridge {
  const wsUrl = new URL('ws', base);
  wsUrl.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  const handlers = new Map<string, Set<(payload: unknown) => void>>();
  const statusHandlers = new Set<(s: LinkStatus) => void>();
  const pending = new Map<number, (r: Result<unknown>) => void>();
  let socket: WebSocket | null = null;
  let status: LinkStatus = 'connecting';
  let nextId = 1;
  let backoffMs = 500;
  let opened: Promise<void>;
  let markOpen: () => void = () => {};

  const setStatus = (s: LinkStatus) => {
    status = s;
    for (const h of statusHandlers) h(s);
  };

  const connect = () => {
    opened = new Promise((res) => { markOpen = res; });
    const ws = new WebSocket(wsUrl);
    socket = ws;
    ws.onopen = () => {
      backoffMs = 500;
      setStatus('open');
      markOpen();
    };
    ws.onmessage = (e) => {
      const frame = JSON.parse(String(e.data)) as WsServerFrame;
      if (frame.t === 'result') {
        pending.get(frame.id)?.(frame.result);
        pending.delete(frame.id);
      } else {
        for (const h of handlers.get(frame.name) ?? []) h(frame.payload);
      }
    };
    ws.onclose = () => {
      for (const resolve of pending.values()) resolve({ ok: false, error: DISCONNECTED });
      pending.clear();
      if (status !== 'closed') setStatus('closed');
      setTimeout(connect, backoffMs);
      backoffMs = Math.min(backoffMs * 2, 8000);
    };
  };
  connect();

  async function upload(batch: string, relPath: string, file: File): Promise<string> {
    const url = new URL('upload', base);
    url.searchParams.set('batch', batch);
    url.searchParams.set('path', relPath);
    const res = await fetch(url, { method: 'POST', body: file, headers: { 'Content-Type': 'application/octet-stream' } });
    const body = (await res.json()) as Result<{ path: string }>;
    if (!body.ok) throw Object.assign(new Error(body.error.message), { code: body.error.code });
    return body.value.path;
  }

  return {
    kind: 'headless',
    async invoke(name: CommandName, request?: unknown) {
      if (status === 'connecting') await opened;
      if (!socket || socket.readyState !== WebSocket.OPEN) return { ok: false, error: DISCONNECTED } as never;
      const id = nextId++;
      const frame: WsClientFrame = { t: 'call', id, name, request: request ?? {} };
      socket.send(JSON.stringify(frame));
      return new Promise((resolve) => pending.set(id, resolve as (r: Result<unknown>) => void)) as never;
    },
    on<K extends EventName>(name: K, handler: (payload: EventPayload<K>) => void) {
      let set = handlers.get(name);
      if (!set) handlers.set(name, (set = new Set()));
      set.add(handler as (p: unknown) => void);
      return () => set.delete(handler as (p: unknown) => void);
    },
    async pathsForDrop(items, onProgress) {
      const files = (await Promise.all(items.map(expand))).flat();
      const total = files.reduce((n, f) => n + f.file.size, 0);
      const batch = [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, '0')).join('');
      const tops = new Set<string>();
      let done = 0;
      for (const f of files) {
        tops.add(await upload(batch, f.relPath, f.file));
        done += f.file.size;
        onProgress?.(done, total);
      }
      return [...tops];
    },
    onStatus(handler) {
      statusHandlers.add(handler);
      handler(status);
      return () => statusHandlers.delete(handler);
    },
  };
}

/** A dropped item as files with '/'-separated paths relative to the drop (folders walked). */
async function expand(item: DroppedItem): Promise<{ relPath: string; file: File }[]> {
  if (!item.entry?.isDirectory) return [{ relPath: item.file.name, file: item.file }];
  const out: { relPath: string; file: File }[] = [];
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((res, rej) => (entry as FileSystemFileEntry).file(res, rej));
      out.push({ relPath: entry.fullPath.replace(/^\/+/, ''), file });
      return;
    }
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
      if (!batch.length) break;
      for (const child of batch) await walk(child);
    }
  };
  await walk(item.entry);
  return out;
}
