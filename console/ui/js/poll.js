// Polling with back-off, tied to the page that started it: a poll runs only
// while its page is shown and the tab is visible, quickly while what it
// watches changes and ever more slowly while it does not.

const scopes = new Set();

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) for (const s of scopes) s.wake();
});

export class Scope {
  constructor() {
    this.polls = new Set();
    scopes.add(this);
  }

  // poll calls load now and again after each answer: after min ms when load
  // returns true (something changed or is in progress), else after twice the
  // last wait, at most max ms. A thrown error backs off the same way.
  poll(load, { min = 2000, max = 30000 } = {}) {
    const p = { load, min, max, wait: min, timer: null, running: false, stopped: false };
    this.polls.add(p);
    this.run(p);
    return () => { p.stopped = true; clearTimeout(p.timer); this.polls.delete(p); };
  }

  async run(p) {
    if (p.stopped || p.running) return;
    clearTimeout(p.timer);
    if (document.hidden) return; // woken by visibilitychange
    p.running = true;
    let busy = false;
    try { busy = await p.load(); } catch (err) { console.warn('poll:', err.message); }
    p.running = false;
    if (p.stopped) return;
    p.wait = busy ? p.min : Math.min(p.wait * 2, p.max);
    p.timer = setTimeout(() => this.run(p), p.wait);
    showRefresh(p.wait);
  }

  // wake polls at once (after an action, or when the tab is shown again).
  wake() {
    for (const p of this.polls) { p.wait = p.min; this.run(p); }
  }

  close() {
    for (const p of this.polls) { p.stopped = true; clearTimeout(p.timer); }
    this.polls.clear();
    scopes.delete(this);
  }
}

function showRefresh(wait) {
  const el = document.getElementById('refresh');
  if (el) el.textContent = `updated ${new Date().toLocaleTimeString()} · next in ${Math.round(wait / 1000)}s`;
}
