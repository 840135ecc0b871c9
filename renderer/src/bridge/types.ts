/**
 * The bridge as the renderer's store sees it: the contract's `invoke`/`on`
 * (shared/ipc/bridge.ts) plus what differs by surface: turning dropped files into
 * paths the engine can read, and whether the link to the engine is up.
 */
import type { PosternBridge } from '../../../shared/ipc/bridge.js';

/** One item dropped on the window, read during the drop event. */
export interface DroppedItem {
  file: File;
  /** Folder-aware entry (webkitGetAsEntry), when the browser gives one. */
  entry: FileSystemEntry | null;
}

export type LinkStatus = 'connecting' | 'open' | 'closed';

export interface RendererBridge extends PosternBridge {
  readonly kind: 'electron' | 'headless';
  /** Paths on the engine's machine for dropped items (Electron: real paths; headless: uploaded copies). */
  pathsForDrop(items: DroppedItem[], onProgress?: (sentBytes: number, totalBytes: number) => void): Promise<string[]>;
  onStatus(handler: (status: LinkStatus) => void): () => void;
}
