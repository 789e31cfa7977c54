// Operations. The API has no list of operations: each cluster and enabler
// names its last one, so this page asks for the operations of the resources
// that are not settled (in progress or in Error), waiting ones first.
import { get, enc, listLimit } from '../api.js';
import { h, replace, row, table, badge, ago, duration, errorBox } from '../dom.js';
import { operationPanel } from '../operation.js';

const settled = new Set(['Enabled', 'Terminated']);
const order = { WaitingForOperator: 0, Compensating: 1, Running: 2, Failed: 3, Completed: 4 };

// openOperations answers [{op, kind, name}] for every unsettled resource,
// at most limit of them, ordered waiting first.
export async function openOperations(limit = 50) {
  const [clusters, enablers] = await Promise.all([get('/api/k8sclusters'), get('/api/enabler/instanced?limit=' + listLimit)]);
  const wanted = [
    ...clusters.filter((c) => c.operationId && !settled.has(c.status)).map((c) => ({ kind: 'cluster', name: c.name, id: c.operationId })),
    ...enablers.filter((e) => e.operationId && !settled.has(e.status)).map((e) => ({ kind: 'enabler', name: e.name, id: e.operationId })),
  ].slice(0, limit);
  const out = [];
  // A few at a time: each is a Temporal describe and query.
  for (let i = 0; i < wanted.length; i += 4) {
    const batch = await Promise.all(wanted.slice(i, i + 4).map(async (w) => {
      try { return { ...w, op: await get('/api/operations/' + enc(w.id)) }; } catch (err) { return { ...w, error: err }; }
    }));
    out.push(...batch);
  }
  out.sort((a, b) => (order[a.op?.state] ?? 5) - (order[b.op?.state] ?? 5));
  return { list: out, more: wanted.length >= limit };
}

export function operationsPage(main, scope) {
  const list = h('div', { class: 'live' }, h('p', { class: 'muted' }, 'loading …'));
  replace(main, h('h1', null, 'Operations'),
    h('p', { class: 'muted' }, 'The operations of clusters and enablers in progress or in Error, those waiting for an operator first.'),
    list);
  scope.poll(async () => {
    let res;
    try { res = await openOperations(); } catch (err) { replace(list, errorBox(err)); return false; }
    replace(list, operationsTable(res.list), res.more ? h('p', { class: 'muted' }, 'Only the first 50 are shown.') : null);
    return res.list.some((x) => x.op && !['Completed', 'Failed'].includes(x.op.state));
  }, { min: 3000, max: 30000 });
}

export function operationsTable(list) {
  return table(['Operation', 'State', 'For', 'Step', 'Started', 'Took', 'Error'], list.map((x) => row([
    h('a', { href: '#/operations/' + enc(x.id) }, x.op?.type || x.id),
    x.op ? badge(x.op.state) : errorBox(x.error),
    h('a', { href: `#/${x.kind}s/${enc(x.name)}` }, `${x.kind} ${x.name}`),
    x.op?.step || '',
    x.op ? ago(x.op.started) : '',
    x.op ? duration(x.op.started, x.op.ended) : '',
    h('span', { class: 'reason' }, x.op?.waiting?.error || x.op?.lastError || ''),
  ], { 'data-operation': x.id })), { class: 'operations' });
}

export function operationPage(main, scope, id) {
  replace(main, h('p', { class: 'crumbs' }, h('a', { href: '#/operations' }, 'Operations'), ' / ', id),
    h('h1', null, 'Operation'), operationPanel(scope, id));
}
