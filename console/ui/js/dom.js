// DOM building without HTML strings: every value lands in textContent or an
// attribute, so nothing the API returns is ever parsed as markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

export const link = (href, text, attrs = {}) => h('a', { href, ...attrs }, text);

export function table(headers, rows, attrs = {}) {
  return h('div', { class: 'scroll' },
    h('table', attrs,
      h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', null, rows.length ? rows : h('tr', null, h('td', { colspan: headers.length, class: 'empty' }, 'none')))));
}

export const row = (cells, attrs) => h('tr', attrs, cells.map((c) => h('td', null, c)));

const good = new Set(['Enabled', 'Completed', 'Ready', 'Mirrored', 'deployed', 'healthy', 'Healthy', 'CHOSEN']);
const bad = new Set(['Error', 'Failed', 'Missing', 'failed', 'Conflict', 'unhealthy', 'Unhealthy', 'Unreachable', 'NotReady']);
const waiting = new Set(['WaitingForOperator']);

export function badge(text) {
  let kind = 'busy';
  if (good.has(text)) kind = 'good';
  else if (bad.has(text)) kind = 'bad';
  else if (waiting.has(text)) kind = 'wait';
  else if (['Terminated', 'superseded', 'uninstalled', 'NotConnected'].includes(text)) kind = 'idle';
  return h('span', { class: 'badge ' + kind }, text);
}

// Kubernetes quantities, for display and arithmetic.
const suffixes = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

export function quantity(q) {
  if (q === undefined || q === null || q === '') return NaN;
  if (typeof q === 'number') return q;
  const m = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$/.exec(String(q).trim());
  if (!m || !(m[2] in suffixes)) return NaN;
  return Number(m[1]) * suffixes[m[2]];
}

export function cores(n) {
  if (!Number.isFinite(n)) return '–';
  if (n < 1 && n > 0) return Math.round(n * 1000) + 'm';
  return (Math.round(n * 100) / 100).toString();
}

export function bytes(n, binary = true) {
  if (!Number.isFinite(n)) return '–';
  const units = binary ? ['B', 'Ki', 'Mi', 'Gi', 'Ti'] : ['B/s', 'kB/s', 'MB/s', 'GB/s'];
  const base = binary ? 1024 : 1000;
  let i = 0;
  while (Math.abs(n) >= base && i < units.length - 1) { n /= base; i++; }
  return (Math.round(n * 10) / 10) + (binary && i === 0 ? '' : '') + units[i];
}

export function ago(time) {
  if (!time) return '–';
  const t = new Date(time);
  const s = Math.round((Date.now() - t.getTime()) / 1000);
  let text;
  if (s < 5) text = 'just now';
  else if (s < 90) text = s + 's ago';
  else if (s < 5400) text = Math.round(s / 60) + ' min ago';
  else if (s < 129600) text = Math.round(s / 3600) + ' h ago';
  else text = Math.round(s / 86400) + ' days ago';
  return h('time', { datetime: t.toISOString(), title: t.toLocaleString() }, text);
}

export function duration(from, to) {
  const ms = new Date(to || Date.now()) - new Date(from);
  if (!Number.isFinite(ms)) return '';
  return ms < 1000 ? ms + 'ms' : ms < 120000 ? (ms / 1000).toFixed(1) + 's' : Math.round(ms / 60000) + ' min';
}

// errorBox shows the server's message (and request id) where an action failed.
export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, err.message,
    err.requestId ? h('span', { class: 'rid' }, ' (request ' + err.requestId + ')') : null);
}
