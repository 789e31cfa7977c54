// The placement decision as a table: a row per cluster, its inputs, the
// verdict and the reason (the same figures as the demo prints).
import { h, row, table, bytes } from './dom.js';

export function decisionView(d) {
  if (!d) return h('p', { class: 'muted' }, 'No placement decision recorded.');
  const rows = (d.candidates || []).map((c) => {
    const chosen = c.clusterId === d.clusterId && d.clusterId;
    let verdict = chosen ? 'CHOSEN' : c.feasible ? (c.cloud && d.clusterId ? 'fits; the cloud is only a fallback' : 'fits; lower score') : 'does not fit';
    return row([
      h('a', { href: '#/clusters/' + encodeURIComponent(c.cluster) }, c.cluster),
      c.cloud ? 'cloud' : 'edge',
      c.free?.cpu ?? '–', c.free?.memory ?? '–',
      `${c.replicasFit} (needs ${c.replicasNeeded})`,
      c.traffic ? (c.traffic.error ? h('span', { title: c.traffic.error }, 'no data') : bytes(c.traffic.bytesPerSecond, false)) : '–',
      Number.isFinite(c.score) ? String(Math.round(c.score * 100) / 100) : '–',
      h('span', { class: chosen ? 'badge good' : c.feasible ? 'badge idle' : 'badge bad' }, verdict),
      c.reason,
    ], { 'data-cluster': c.cluster, class: chosen ? 'chosen' : '' });
  });
  return h('div', { class: 'decision' },
    h('dl', { class: 'facts' },
      h('dt', null, 'Policy'), h('dd', null, d.policy + (d.applied && d.applied !== d.policy ? ` (applied ${d.applied})` : '')),
      d.fallback ? [h('dt', null, 'Fallback'), h('dd', null, d.fallback)] : null,
      h('dt', null, 'Demand'), h('dd', null, `${d.total?.cpu ?? '?'} CPU, ${d.total?.memory ?? '?'} memory in total`),
      h('dt', null, 'Chosen'), h('dd', null, d.cluster || 'nothing fits'),
      h('dt', null, 'Reason'), h('dd', { class: 'reason' }, d.reason)),
    table(['Cluster', 'Role', 'Free CPU', 'Free memory', 'Replicas fit', 'Traffic', 'Score', 'Verdict', 'Why'], rows, { class: 'decision-table' }));
}
