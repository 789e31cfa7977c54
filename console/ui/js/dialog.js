// Modal dialogs for the actions. Each has its own poll scope, closed with it,
// so an operation started in a dialog is watched until the dialog closes.
import { h, replace, errorBox } from './dom.js';
import { Scope } from './poll.js';
import { operationPanel, ended } from './operation.js';

export function openDialog(title, build, { onClose } = {}) {
  const scope = new Scope();
  const body = h('div', { class: 'dialog-body' });
  const dlg = h('dialog', { 'aria-label': title },
    h('header', null, h('h2', null, title),
      h('button', { type: 'button', class: 'link close', 'aria-label': 'Close', onclick: () => dlg.close() }, '✕')),
    body);
  dlg.addEventListener('close', () => { scope.close(); dlg.remove(); onClose?.(); });
  document.body.append(dlg);
  const ctx = { scope, body, close: () => dlg.close() };
  build(ctx);
  dlg.showModal();
  return ctx;
}

// form builds a form whose submit runs action(values) with the button
// disabled, and shows the server's message if it throws.
export function form(fields, submitLabel, action, { extraButtons = [] } = {}) {
  const status = h('div', { class: 'form-status' });
  const submit = h('button', { type: 'submit', class: 'primary' }, submitLabel);
  const f = h('form', { class: 'form', novalidate: true }, fields, h('div', { class: 'actions' }, submit, extraButtons), status);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    replace(status);
    try {
      await action(new FormData(f), status);
    } catch (err) {
      replace(status, errorBox(err));
    } finally {
      submit.disabled = false;
    }
  });
  return f;
}

export function field(label, input, help) {
  return h('label', { class: 'field' }, h('span', null, label), input, help ? h('small', null, help) : null);
}

// watch replaces the dialog's content with the operation's live steps;
// done(op) runs when it ends.
export function watch(ctx, intro, operationId, done) {
  replace(ctx.body, intro, operationPanel(ctx.scope, operationId, {
    onChange: (op) => { if (ended(op)) done?.(op); },
  }), h('div', { class: 'actions' }, h('button', { type: 'button', onclick: ctx.close }, 'Close')));
}

export function confirmAction(title, question, label, action) {
  openDialog(title, (ctx) => {
    const status = h('div');
    const yes = h('button', { type: 'button', class: 'danger', 'data-action': 'confirm' }, label);
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      try { await action(ctx); } catch (err) { replace(status, errorBox(err)); yes.disabled = false; }
    });
    replace(ctx.body, h('p', null, question), status, h('div', { class: 'actions' }, yes, h('button', { type: 'button', onclick: ctx.close }, 'Cancel')));
  });
}

// parseValues reads a JSON object of Helm values from a textarea ("" is none).
export function parseValues(text, name = 'values') {
  if (!text.trim()) return undefined;
  let v;
  try { v = JSON.parse(text); } catch (err) { throw new Error(`${name} must be a JSON object: ${err.message}`); }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${name} must be a JSON object`);
  return v;
}
