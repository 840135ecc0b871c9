/** Short messages after an action ("Paired with Bob"), announced politely to screen readers. */
import { useApp, actions } from '../store/index.js';
import { selectNotices } from '../store/ui-slice.js';

export function Notices() {
  const notices = useApp(selectNotices);
  return (
    <div className="notices" role="status" aria-live="polite">
      {notices.map((n) => (
        <div key={n.id} className={`notice notice-${n.kind}`}>
          <span>{n.text}</span>
          <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => actions().dismiss(n.id)}>×</button>
        </div>
      ))}
    </div>
  );
}
