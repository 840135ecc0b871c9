/** Drag-and-drop of files and folders onto a device: handlers for any element, and whether something hovers. */
import { useState, type DragEvent } from 'react';
import { actions } from '../store/index.js';
import type { DroppedItem } from '../bridge/index.js';

export function useDropToPeer(peerId: string) {
  const [over, setOver] = useState(false);
  const hasFiles = (e: DragEvent) => e.dataTransfer.types.includes('Files');
  return {
    over,
    handlers: {
      onDragOver(e: DragEvent) {
        if (!hasFiles(e)) return;
        e.preventDefault();
        e.dataTransfer.dropEffect = 'copy';
        setOver(true);
      },
      onDragLeave() {
        setOver(false);
      },
      onDrop(e: DragEvent) {
        if (!hasFiles(e)) return;
        e.preventDefault();
        setOver(false);
        // Entries must be read during the event: the DataTransfer empties afterwards.
        const items: DroppedItem[] = [];
        for (const item of Array.from(e.dataTransfer.items)) {
          const file = item.kind === 'file' ? item.getAsFile() : null;
          if (file) items.push({ file, entry: item.webkitGetAsEntry?.() ?? null });
        }
        void actions().sendDropped(peerId, items);
      },
    },
  };
}
