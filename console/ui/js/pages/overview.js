// The overview: counts, clusters by health, enablers by status, and the
// operations waiting for an operator first.
import { get, listLimit } from '../api.js';
import { h, replace, badge, errorBox } from '../dom.js';
import { openOperations, operationsTable } from './operations.js';
import { healthText } from './clusters.js';

function tally(items, key) {
  const m = new Map();
  for (const x of items) m.set(key(x), (m.get(key(x)) || 0) + 1);
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
}

const card = (title, count, href, parts) => h('a', { class: 'card', href },
  h('span', { class: 'count' }, String(count)), h('span', { class: 'label' }, title),
  h('span', { class: 'parts' }, parts.map(([k, n]) => h('span', null, badge(k), ' ', String(n)))));

export function overviewPage(main, scope) {
  const cards = h('div', { class: 'cards live' }, h('p', { class: 'muted' }, 'loading …'));
  const ops = h('div', { class: 'live' });
  replace(main, h('h1', null, 'Overview'), cards, h('h2', null, 'Operations needing attention'), ops);
  scope.poll(async () => {
    try {
      const [clusters, enablers, repos] = await Promise.all([get('/api/k8sclusters'), get('/api/enabler/instanced?limit=' + listLimit), get('/api/chartrepo')]);
      replace(cards,
        card('clusters', clusters.length, '#/clusters', tally(clusters, (c) => healthText(c) || c.status)),
        card('enablers', enablers.length, '#/enablers', tally(enablers, (e) => e.status)),
        card('repositories', repos.length, '#/repos', []));
      const res = await openOperations(20);
      replace(ops, res.list.length ? operationsTable(res.list) : h('p', { class: 'muted' }, 'None: every cluster and enabler is settled.'));
      return res.list.some((x) => x.op && !['Completed', 'Failed'].includes(x.op.state));
    } catch (err) {
      replace(cards, errorBox(err));
      return false;
    }
  }, { min: 3000, max: 30000 });
}
