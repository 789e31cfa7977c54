// An operation's steps, live: polled until it ends, with Retry and Abort
// while it waits for an operator and a link to its workflow in Temporal.
import { get, post, enc } from './api.js';
import { h, replace, badge, duration, errorBox } from './dom.js';

export const ended = (op) => op.state === 'Completed' || op.state === 'Failed';

// operationPanel renders operation id into a new element and keeps it live
// within scope; onChange(op) is called whenever its state or step changes.
export function operationPanel(scope, id, { onChange } = {}) {
  const el = h('section', { class: 'operation', 'data-operation': id }, h('p', { class: 'muted' }, 'loading operation ' + id + ' …'));
  let last = '', error = null;
  const stop = scope.poll(async () => {
    let op;
    try {
      op = await get('/api/operations/' + enc(id));
      error = null;
    } catch (err) {
      error = err;
      replace(el, errorBox(err));
      return false;
    }
    const key = JSON.stringify([op.state, op.step, op.done.length, op.attempts, op.lastError, op.operatorRetries]);
    render(el, op, error, () => scope.wake());
    if (key !== last) {
      last = key;
      onChange?.(op);
    }
    if (ended(op)) { stop(); return false; }
    return true;
  }, { min: 1000, max: 5000 });
  return el;
}

function render(el, op, _error, refresh) {
  el.dataset.state = op.state;
  const steps = op.done.map((s) => h('li', { class: 'done' }, s));
  if (op.step && !ended(op)) {
    steps.push(h('li', { class: op.state === 'WaitingForOperator' ? 'stuck' : 'current' }, op.step,
      op.attempts > 1 ? h('span', { class: 'muted' }, ` · attempt ${op.attempts}`) : null,
      op.operatorRetries > 0 ? h('span', { class: 'muted' }, ` · retried ${op.operatorRetries}× by an operator`) : null));
  }
  const actionError = h('div');
  const act = (signal) => async (ev) => {
    ev.target.disabled = true;
    try {
      await post(`/api/operations/${enc(op.id)}/${signal}`);
      refresh();
    } catch (err) {
      replace(actionError, errorBox(err));
      ev.target.disabled = false;
    }
  };
  replace(el,
    h('header', null,
      h('strong', null, op.type), ' ', badge(op.state), ' ',
      h('span', { class: 'muted' }, duration(op.started, op.ended)),
      op.temporalUrl ? h('a', { class: 'temporal', href: op.temporalUrl, target: '_blank', rel: 'noopener noreferrer' }, 'workflow in Temporal ↗') : null),
    h('ol', { class: 'steps' }, steps),
    op.lastError && op.state !== 'Completed' ? h('p', { class: 'error' }, op.lastError) : null,
    op.waiting ? h('div', { class: 'waiting', role: 'alert' },
      h('p', null, h('strong', null, 'Waiting for an operator'), ` since ${new Date(op.waiting.since).toLocaleTimeString()}: the step “${op.waiting.step}” used up its retries.`),
      h('p', { class: 'error' }, op.waiting.error),
      op.waiting.hint ? h('p', { class: 'muted' }, op.waiting.hint) : null,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'primary', 'data-action': 'retry', onclick: act('retry') }, 'Retry'),
        h('button', { type: 'button', class: 'danger', 'data-action': 'abort', onclick: act('abort') }, 'Abort'))) : null,
    actionError);
}
