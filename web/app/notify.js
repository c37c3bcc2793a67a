// notify.js — the unread badge of the message centre (消息) in the header.
//
// The count comes from GET /notifications/unread-count: when the page opens
// or the route changes, every 30 seconds while the tab is visible, and at once
// when a screen reads or marks notifications (notesChanged()).  Notifications
// themselves are made by the server in the transaction of each change, so the
// badge is as current as its last poll.
import { useState, useEffect } from 'preact/hooks';
import htm from 'htm';
import { h } from 'preact';
import { api, session } from './api.js';

const html = htm.bind(h);
const EVENT = 'yz-notifications';
const POLL_MS = 30000;

/** Screens call this after reading or marking notifications (or acting on a deal). */
export function notesChanged() {
  window.dispatchEvent(new Event(EVENT));
}

export function UnreadBadge({ me, path }) {
  const [n, setN] = useState(0);
  useEffect(() => {
    if (!me) { setN(0); return undefined; }
    let live = true;
    const load = () => {
      if (!session.signedIn() || document.visibilityState === 'hidden') return;
      api.get('/notifications/unread-count').then((r) => { if (live) setN(r.unread); }, () => {});
    };
    load();
    const t = setInterval(load, POLL_MS);
    window.addEventListener(EVENT, load);
    document.addEventListener('visibilitychange', load);
    return () => {
      live = false; clearInterval(t);
      window.removeEventListener(EVENT, load); document.removeEventListener('visibilitychange', load);
    };
  }, [me && me.id, path]);
  if (!me) return null;
  const label = n ? `消息，${n} 条未读` : '消息，没有未读';
  return html`<a class=${'bell' + (path === '/notifications' ? ' active' : '')} href="#/notifications" aria-label=${label} title=${label} data-unread=${n}>
    消息${n ? html`<span class="count" data-testid="unread-count" aria-hidden="true">${n > 99 ? '99+' : n}</span>` : ''}</a>`;
}
