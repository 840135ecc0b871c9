/**
 * Choosing what to send to one device: native pickers in the desktop app, paths
 * typed as text on the headless host (they are paths on the host machine), and
 * a drop zone on both.
 */
import { useState, type FormEvent } from 'react';
import { useApp, actions } from '../store/index.js';
import { selectPlatform } from '../store/app-slice.js';
import { selectSendingTo } from '../store/transfers-slice.js';
import { formatBytes } from '../format.js';
import { useDropToPeer } from './use-drop.js';

export function SendPanel({ peerId, peerName }: { peerId: string; peerName: string }) {
  const platform = useApp(selectPlatform);
  const sending = useApp(selectSendingTo(peerId));
  const { over, handlers } = useDropToPeer(peerId);
  const [paths, setPaths] = useState('');
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const list = paths.split('\n').map((p) => p.trim()).filter(Boolean);
    if (list.length && (await actions().sendPaths(peerId, list))) setPaths('');
  };
  return (
    <section className="send" aria-labelledby="send-title">
      <h3 id="send-title">Send to {peerName}</h3>
      {platform.nativeDialogs && (
        <div className="actions">
          <button type="button" className="primary" disabled={!!sending} onClick={() => void actions().pickAndSend(peerId, 'files')}>Choose files…</button>
          <button type="button" disabled={!!sending} onClick={() => void actions().pickAndSend(peerId, 'folder')}>Choose a folder…</button>
        </div>
      )}
      {!platform.nativeDialogs && (
        <form onSubmit={(e) => void submit(e)} className="path-form">
          <label htmlFor="send-paths">Files or folders on this computer (one full path per line)</label>
          <textarea id="send-paths" className="mono" rows={2} spellCheck={false} placeholder="/home/me/Pictures/holiday" value={paths} onChange={(e) => setPaths(e.target.value)} />
          <div className="actions">
            <button type="submit" className="primary" disabled={!!sending || !paths.trim()}>Send</button>
          </div>
        </form>
      )}
      <div className={`dropzone${over ? ' drop-over' : ''}`} {...handlers}>
        {platform.uploads ? 'Or drop files and folders here: they are copied to this computer’s Postern folder, then sent.' : 'Or drop files and folders here.'}
      </div>
      {sending && (
        <p role="status" className="muted">
          {sending.label}
          {sending.totalBytes ? ` ${formatBytes(sending.doneBytes ?? 0)} of ${formatBytes(sending.totalBytes)}` : ''}
        </p>
      )}
    </section>
  );
}
