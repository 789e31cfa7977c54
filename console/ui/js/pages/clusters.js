// Clusters: the list, joining one, and a cluster's page with its nodes and enablers.
import { get, post, del, enc } from '../api.js';
import { h, replace, row, table, badge, ago, errorBox, quantity, cores, bytes } from '../dom.js';
import { openDialog, form, field, watch } from '../dialog.js';
import { operationPanel } from '../operation.js';
import { changed } from './common.js';

// Fields other engineers add (health, cordoned, labels) are shown when present.
export function healthText(c) {
  const hl = c.health;
  if (hl === undefined || hl === null) return null;
  if (typeof hl === 'string') return hl;
  return hl.state || hl.status || (hl.healthy === true ? 'Healthy' : hl.healthy === false ? 'Unhealthy' : null);
}

export function labelChips(labels) {
  if (!labels || typeof labels !== 'object') return null;
  const entries = Object.entries(labels);
  if (!entries.length) return null;
  return h('span', { class: 'chips' }, entries.map(([k, v]) => h('span', { class: 'chip' }, v === '' ? k : `${k}=${v}`)));
}

export function clustersPage(main, scope) {
  const list = h('div', { class: 'live' }, h('p', { class: 'muted' }, 'loading …'));
  replace(main,
    h('div', { class: 'title' }, h('h1', null, 'Clusters'),
      h('button', { type: 'button', class: 'primary', 'data-action': 'join', onclick: () => joinDialog(scope) }, 'Join a cluster')),
    list);
  const same = changed();
  scope.poll(async () => {
    let clusters;
    try { clusters = await get('/api/k8sclusters'); } catch (err) { replace(list, errorBox(err)); return false; }
    if (same(clusters)) return clusters.some(busy);
    const rows = clusters.map((c) => row([
      h('a', { href: '#/clusters/' + enc(c.name) }, c.name),
      badge(c.status),
      c.cloud ? 'cloud' : 'edge',
      c.serverVersion || c.k8s_version || '–',
      String(c.nodeCount ?? '–'),
      c.mesh ? String(c.mesh.id) : '–',
      healthText(c) ? badge(healthText(c)) : '–',
      c.cordoned ? badge('cordoned') : null,
      labelChips(c.labels),
      c.statusReason ? h('span', { class: 'reason' }, c.statusReason) : '',
    ], { 'data-cluster': c.name }));
    replace(list, table(['Name', 'Status', 'Role', 'Version', 'Nodes', 'Mesh id', 'Health', '', 'Labels', 'Note'], rows, { class: 'clusters' }));
    return clusters.some(busy);
  });
}

const busy = (x) => ['Pending', 'Removing', 'Terminating', 'Deleting', 'Upgrading', 'RollingBack'].includes(x.status);

function joinDialog(scope) {
  openDialog('Join a cluster', (ctx) => {
    const kubeconfig = h('textarea', { name: 'kubeconfig', rows: 10, spellcheck: 'false', autocomplete: 'off', placeholder: 'apiVersion: v1\nkind: Config\n…' });
    const file = h('input', { type: 'file', accept: '.yaml,.yml,.json,.kubeconfig,text/plain' });
    file.addEventListener('change', async () => { if (file.files[0]) kubeconfig.value = await file.files[0].text(); });
    replace(ctx.body,
      h('p', { class: 'muted' }, 'The kubeconfig is sent once, stored encrypted and never shown again. Its context, cluster and user must be named like the cluster.'),
      form([
        field('Name', h('input', { name: 'name', required: true, pattern: '[a-z0-9]([-a-z0-9]*[a-z0-9])?', autocomplete: 'off' })),
        field('Description', h('input', { name: 'description' })),
        field('Kubernetes version', h('input', { name: 'k8s_version', placeholder: '1.34' })),
        h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'cloud' }), ' the cloud cluster (otherwise the first joined is)'),
        field('Kubeconfig', kubeconfig, 'Paste it, or choose a file:'),
        file,
      ], 'Join', async (fd) => {
        const body = { name: fd.get('name'), description: fd.get('description'), k8s_version: fd.get('k8s_version'), credentials: kubeconfig.value };
        if (fd.get('cloud')) body.cloud = true;
        const a = await post('/api/k8sclusters', body);
        kubeconfig.value = '';
        watch(ctx, h('p', null, 'Joining ', h('strong', null, body.name), ' …'), a.operationId, () => scope.wake());
        scope.wake();
      }));
  });
}

export function clusterPage(main, scope, name) {
  const head = h('div', { class: 'live' }, h('p', { class: 'muted' }, 'loading …'));
  const op = h('div');
  const nodes = h('div', { class: 'live' });
  const enablers = h('div', { class: 'live' });
  replace(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/clusters' }, 'Clusters'), ' / ', name),
    head, op,
    h('h2', null, 'Nodes'), nodes,
    h('h2', null, 'Enablers'), enablers);
  let watching = null;
  const same = changed();
  scope.poll(async () => {
    let c;
    try { c = await get('/api/k8sclusters/' + enc(name)); } catch (err) { replace(head, errorBox(err)); return false; }
    if (c.operationId && c.operationId !== watching && (busy(c) || c.status === 'Error')) {
      watching = c.operationId;
      replace(op, h('h2', null, 'Current operation'), operationPanel(scope, c.operationId, { onChange: () => scope.wake() }));
    }
    if (same(c)) return busy(c);
    replace(head,
      h('div', { class: 'title' }, h('h1', null, c.name, ' ', badge(c.status)),
        h('button', { type: 'button', class: 'danger', 'data-action': 'remove', onclick: () => removeDialog(c, scope) }, 'Remove')),
      h('dl', { class: 'facts' },
        h('dt', null, 'Role'), h('dd', null, c.cloud ? 'cloud' : 'edge'),
        h('dt', null, 'Description'), h('dd', null, c.description || '–'),
        h('dt', null, 'Kubernetes'), h('dd', null, c.serverVersion || '–', c.k8s_version ? ` (declared ${c.k8s_version})` : ''),
        h('dt', null, 'Pod CIDRs'), h('dd', null, (c.podCIDRs || []).join(', ') || '–'),
        h('dt', null, 'ClusterMesh'), h('dd', null, c.mesh ? `id ${c.mesh.id}` + (c.mesh.peers?.length ? `, peers ${c.mesh.peers.join(', ')}` : '') : 'not in a mesh'),
        healthText(c) ? [h('dt', null, 'Health'), h('dd', null, badge(healthText(c)))] : null,
        c.cordoned !== undefined ? [h('dt', null, 'Cordoned'), h('dd', null, c.cordoned ? 'yes: no new enablers are placed here' : 'no')] : null,
        labelChips(c.labels) ? [h('dt', null, 'Labels'), h('dd', null, labelChips(c.labels))] : null,
        h('dt', null, 'Joined'), h('dd', null, ago(c.createdAt)),
        c.statusReason ? [h('dt', null, 'Reason'), h('dd', { class: 'reason' }, c.statusReason)] : null,
        c.notes?.length ? [h('dt', null, 'Notes'), h('dd', null, c.notes.join('; '))] : null));
    return busy(c);
  });
  scope.poll(async () => {
    try {
      const list = await get('/api/k8sclusters/node/' + enc(name));
      replace(nodes, nodesTable(list));
    } catch (err) { replace(nodes, errorBox(err)); }
    return false;
  }, { min: 10000, max: 60000 });
  scope.poll(async () => {
    try {
      const list = await get('/api/enabler/enabler_cluster/' + enc(name));
      replace(enablers, table(['Name', 'Status', 'Chart', 'Policy', 'Updated'], list.map((e) => row([
        h('a', { href: '#/enablers/' + enc(e.name) }, e.name), badge(e.status), `${e.helmChart} ${e.chartVersion || ''}`,
        e.auto ? e.placementPolicy || 'auto' : 'by hand', ago(e.updatedAt)]))));
    } catch (err) { replace(enablers, errorBox(err)); }
    return false;
  }, { min: 5000, max: 60000 });
}

// nodesTable: each resource as requested / allocatable (of capacity), and
// what Prometheus says is in use, when it knows.
function nodesTable(nodes) {
  const res = (n, key, fmt, used) => {
    const alloc = quantity(n.allocatable?.[key]), cap = quantity(n.capacity?.[key]), req = quantity(n.requested?.[key] ?? 0);
    return h('div', { class: 'res' },
      h('meter', { min: 0, max: alloc || 1, value: req || 0, title: `requested ${fmt(req)} of ${fmt(alloc)} allocatable` }),
      h('span', null, `${fmt(req)} requested / ${fmt(alloc)} allocatable`),
      h('small', null, `capacity ${fmt(cap)}` + (used !== undefined ? ` · in use ${fmt(Math.max(used, 0))}` : ' · usage unknown')));
  };
  return table(['Node', 'Ready', 'Roles', 'CPU', 'Memory', 'Pods'], nodes.map((n) => row([
    n.name, badge(n.ready ? 'Ready' : 'NotReady'), (n.roles || []).join(', ') || '–',
    res(n, 'cpu', cores, n.usage?.cpuCores),
    res(n, 'memory', bytes, n.usage?.memoryBytes),
    `${n.pods} / ${n.allocatable?.pods ?? '?'}`,
  ], { 'data-node': n.name })), { class: 'nodes' });
}

function removeDialog(c, scope) {
  openDialog('Remove ' + c.name, (ctx) => {
    replace(ctx.body, form([
      h('p', null, 'Disconnects the cluster from the mesh, removes its metrics target and deletes its record.'),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'force' }), ' force: uninstall its enablers first (their records stay, Terminated)'),
    ], 'Remove', async (fd) => {
      const a = await del(`/api/k8sclusters/${enc(c.name)}` + (fd.get('force') ? '?force=true' : ''));
      watch(ctx, h('p', null, 'Removing ', h('strong', null, c.name), ' …'), a.operationId, () => { location.hash = '#/clusters'; });
      scope.wake();
    }));
  });
}

