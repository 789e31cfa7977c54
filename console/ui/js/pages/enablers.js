// Enablers: the list, deploying one (preview first), and an enabler's page
// with its decision, Helm history, global-service mirrors and operation.
import { get, post, del, enc, listLimit } from '../api.js';
import { h, replace, row, table, badge, ago, errorBox } from '../dom.js';
import { openDialog, form, field, watch, confirmAction, parseValues } from '../dialog.js';
import { operationPanel } from '../operation.js';
import { decisionView } from '../decision.js';
import { changed, policies } from './common.js';

const busy = (e) => ['Pending', 'Terminating', 'Deleting', 'Upgrading', 'RollingBack'].includes(e.status);

export function enablersPage(main, scope) {
  const list = h('div', { class: 'live' }, h('p', { class: 'muted' }, 'loading …'));
  replace(main,
    h('div', { class: 'title' }, h('h1', null, 'Enablers'),
      h('button', { type: 'button', class: 'primary', 'data-action': 'deploy', onclick: () => deployDialog(scope, {}) }, 'Deploy an enabler')),
    list);
  const same = changed();
  scope.poll(async () => {
    let all;
    try { all = await get('/api/enabler/instanced?limit=' + listLimit); } catch (err) { replace(list, errorBox(err)); return false; }
    if (same(all)) return all.some(busy);
    replace(list,
      table(['Name', 'Status', 'Cluster', 'Chart', 'Policy', 'Reason'], all.map((e) => row([
        h('a', { href: '#/enablers/' + enc(e.name) }, e.name), badge(e.status),
        e.cluster ? h('a', { href: '#/clusters/' + enc(e.cluster) }, e.cluster) : '–',
        `${e.helmChart} ${e.chartVersion || e.version || ''}`,
        e.auto ? e.placementPolicy || 'auto' : `by hand (${e.vim || '?'})`,
        h('span', { class: 'reason' }, e.statusReason || e.placement?.reason || ''),
      ], { 'data-enabler': e.name })), { class: 'enablers' }),
      all.length >= listLimit ? h('p', { class: 'muted' }, `Showing the first ${listLimit}.`) : null);
    return all.some(busy);
  });
}

// deployDialog: chart and placement, Preview (nothing stored), then Deploy.
export function deployDialog(scope, { chart = '', versions = [] }) {
  openDialog('Deploy an enabler', async (ctx) => {
    let clusters = [];
    try { clusters = await get('/api/k8sclusters'); } catch { /* the cluster list is only a convenience */ }
    const preview = h('div', { class: 'preview' });
    const deploy = h('button', { type: 'button', class: 'primary', 'data-action': 'deploy', disabled: true }, 'Deploy');
    const mode = h('select', { name: 'mode' },
      policies.map((p) => h('option', { value: 'policy:' + p }, 'automatic: ' + p)),
      clusters.map((c) => h('option', { value: 'cluster:' + c.name }, 'on cluster ' + c.name)));
    const f = form([
      field('Chart', h('input', { name: 'helmChart', required: true, value: chart, placeholder: 'repo/chart or oci://…' })),
      field('Version', versions.length
        ? h('select', { name: 'version' }, h('option', { value: '' }, 'latest'), versions.map((v) => h('option', { value: v }, v)))
        : h('input', { name: 'version', placeholder: 'latest' })),
      field('Name', h('input', { name: 'enablerName', required: true, autocomplete: 'off' }), 'also the Helm release name'),
      field('Namespace', h('input', { name: 'namespace', autocomplete: 'off', placeholder: 'default' })),
      field('Placement', mode),
      field('Values (JSON)', h('textarea', { name: 'values', rows: 4, spellcheck: 'false', placeholder: '{"replicaCount": 2}' })),
      field('Timeout (s)', h('input', { name: 'timeout', type: 'number', min: 0, max: 3600, placeholder: '300' })),
    ], 'Preview', async (fd) => {
      replace(preview);
      deploy.disabled = true;
      const body = request(fd);
      const d = await post('/api/placement/preview', body).catch((err) => {
        if (err.details) replace(preview, h('h3', null, 'Nothing fits'), decisionView(err.details));
        throw err;
      });
      replace(preview, h('h3', null, 'Preview: nothing stored, nothing reserved'), decisionView(d));
      deploy.disabled = false;
      deploy.onclick = async () => {
        deploy.disabled = true;
        try {
          const a = await post('/api/enabler', request(new FormData(f)));
          watch(ctx, h('p', null, 'Deploying ', h('a', { href: '#/enablers/' + enc(body.enablerName), onclick: ctx.close }, body.enablerName), ' …'), a.operationId, () => scope.wake());
          scope.wake();
        } catch (err) {
          replace(preview, errorBox(err));
        }
      };
    }, { extraButtons: [deploy] });
    replace(ctx.body, f, preview);
  });
}

function request(fd) {
  const body = { enablerName: fd.get('enablerName'), helmChart: fd.get('helmChart') };
  for (const k of ['version', 'namespace']) if (fd.get(k)) body[k] = fd.get(k);
  if (fd.get('timeout')) body.timeout = Number(fd.get('timeout'));
  const [kind, v] = String(fd.get('mode')).split(/:(.*)/);
  if (kind === 'cluster') { body.auto = false; body.vim = v; } else { body.auto = true; body.placementPolicy = v; }
  const values = parseValues(String(fd.get('values') || ''));
  if (values) body.additionalParams = values;
  return body;
}

export function enablerPage(main, scope, name) {
  const head = h('div', { class: 'live' }, h('p', { class: 'muted' }, 'loading …'));
  const op = h('div');
  const decision = h('div', { class: 'live' });
  const history = h('div', { class: 'live' });
  const mirrors = h('div', { class: 'live' });
  replace(main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/enablers' }, 'Enablers'), ' / ', name),
    head, op,
    h('h2', null, 'Placement decision'), decision,
    h('h2', null, 'Helm history'), history,
    h('h2', null, 'Global services'), mirrors);
  let watching = null;
  const same = changed();
  scope.poll(async () => {
    let e;
    try { e = await get('/api/enabler/' + enc(name)); } catch (err) { replace(head, errorBox(err)); return false; }
    if (e.operationId && e.operationId !== watching) {
      watching = e.operationId;
      replace(op, h('h2', null, 'Current operation'), operationPanel(scope, e.operationId, { onChange: () => scope.wake() }));
    }
    // The values are not shown: they often carry passwords.
    const { additionalParams, previous, ...shown } = e;
    if (same(shown)) return busy(e);
    replace(head,
      h('div', { class: 'title' }, h('h1', null, e.name, ' ', badge(e.status)), actions(e, scope)),
      h('dl', { class: 'facts' },
        h('dt', null, 'Cluster'), h('dd', null, e.cluster ? h('a', { href: '#/clusters/' + enc(e.cluster) }, e.cluster) : '–'),
        h('dt', null, 'Chart'), h('dd', null, e.helmChart, e.chartVersion ? ` ${e.chartVersion}` : '', e.version && e.version !== e.chartVersion ? ` (asked ${e.version})` : ''),
        h('dt', null, 'Namespace'), h('dd', null, e.namespace),
        h('dt', null, 'Placement'), h('dd', null, e.auto ? `automatic, ${e.placementPolicy || 'traffic-most'}` : `by hand on ${e.vim}`),
        h('dt', null, 'Helm revision'), h('dd', null, String(e.releaseRevision || '–')),
        h('dt', null, 'Values'), h('dd', null, additionalParams && Object.keys(additionalParams).length ? `${Object.keys(additionalParams).length} set (not shown: they may hold secrets)` : 'chart defaults'),
        e.health ? [h('dt', null, 'Release'), h('dd', null, e.health.ready ? 'ready' : 'not ready', e.health.releaseStatus ? ` · ${e.health.releaseStatus}` : '',
          e.health.notReady?.length ? ` · waiting for ${e.health.notReady.join(', ')}` : '', e.health.error ? ` · ${e.health.error}` : '')] : null,
        e.statusReason ? [h('dt', null, 'Reason'), h('dd', { class: 'reason' }, e.statusReason)] : null,
        h('dt', null, 'Updated'), h('dd', null, ago(e.updatedAt))));
    replace(decision, decisionView(e.placement));
    replace(mirrors, table(['Service', 'Ports', 'Mirrored into', 'State', 'Reason'], (e.globalServices || []).flatMap((s) =>
      (s.mirrors.length ? s.mirrors : [{ cluster: '–', state: 'no target' }]).map((m) => row([
        `${s.namespace}/${s.name}`, s.ports.map((p) => `${p.port}/${p.protocol}`).join(', '),
        m.cluster, badge(m.state), m.reason || '']))), { class: 'mirrors' }));
    get('/api/enabler/' + enc(name) + '/history').then((revs) => {
      replace(history, table(['Revision', 'Status', 'Chart', 'App', 'Updated', 'Description', ''], revs.map((r) => row([
        String(r.revision), badge(r.status), `${r.chart} ${r.chartVersion}`, r.appVersion || '', ago(r.updated), r.description || '',
        r.revision !== e.releaseRevision && ['Enabled', 'Degraded', 'Error'].includes(e.status)
          ? h('button', { type: 'button', class: 'small', onclick: () => rollback(e, r.revision, scope) }, 'Roll back here') : '',
      ])), { class: 'history' }));
    }, (err) => replace(history, errorBox(err)));
    return busy(e);
  });
}

function actions(e, scope) {
  const b = (label, action, onclick, cls = '') => h('button', { type: 'button', class: cls, 'data-action': action, onclick }, label);
  const settled = !busy(e);
  return h('div', { class: 'actions' },
    settled && ['Enabled', 'Degraded'].includes(e.status) ? b('Upgrade', 'upgrade', () => upgradeDialog(e, scope)) : null,
    settled && ['Enabled', 'Degraded', 'Error'].includes(e.status) ? b('Roll back', 'rollback', () => rollback(e, 0, scope)) : null,
    settled && ['Terminated', 'Error', 'Missing'].includes(e.status) ? b('Instantiate', 'instantiate', () => instantiateDialog(e, scope)) : null,
    settled && e.status !== 'Terminated' ? b('Terminate', 'terminate', () => simple(e, scope, 'Terminate', 'Uninstall the release and keep the record?', 'POST', 'terminate'), 'danger') : null,
    settled ? b('Delete', 'delete', () => deleteDialog(e, scope), 'danger') : null);
}

function simple(e, scope, title, question, method, op) {
  confirmAction(`${title} ${e.name}`, question, title, async (ctx) => {
    const a = await post(`/api/enabler/${enc(e.name)}/${op}`, {});
    watch(ctx, h('p', null, `${title}: ${e.name}`), a.operationId, () => scope.wake());
    scope.wake();
  });
}

function rollback(e, revision, scope) {
  confirmAction(`Roll back ${e.name}`, revision ? `Roll back to Helm revision ${revision}?` : 'Roll back to the previous Helm revision?', 'Roll back', async (ctx) => {
    const a = await post(`/api/enabler/${enc(e.name)}/rollback`, { revision });
    watch(ctx, h('p', null, `Rolling back ${e.name}`), a.operationId, () => scope.wake());
    scope.wake();
  });
}

function upgradeDialog(e, scope) {
  openDialog('Upgrade ' + e.name, (ctx) => {
    replace(ctx.body, form([
      field('Version', h('input', { name: 'version', value: e.version || '', placeholder: 'latest' })),
      field('Values (JSON)', h('textarea', { name: 'values', rows: 4, spellcheck: 'false', placeholder: '{"replicaCount": 3}' }), 'the current values are not shown'),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'reuse', checked: true }), ' merge over the current values (otherwise replace them)'),
    ], 'Upgrade', async (fd) => {
      const body = { version: fd.get('version'), reuseValues: !!fd.get('reuse') };
      const values = parseValues(String(fd.get('values') || ''));
      if (values) body.additionalParams = values;
      const a = await post(`/api/enabler/${enc(e.name)}/upgrade`, body);
      watch(ctx, h('p', null, `Upgrading ${e.name}`), a.operationId, () => scope.wake());
      scope.wake();
    }));
  });
}

function instantiateDialog(e, scope) {
  openDialog('Instantiate ' + e.name, async (ctx) => {
    let clusters = [];
    try { clusters = await get('/api/k8sclusters'); } catch { /* optional */ }
    replace(ctx.body, form([
      field('Placement', h('select', { name: 'mode' },
        policies.map((p) => h('option', { value: 'policy:' + p, selected: e.auto && e.placementPolicy === p }, 'automatic: ' + p)),
        clusters.map((c) => h('option', { value: 'cluster:' + c.name, selected: !e.auto && e.vim === c.name }, 'on cluster ' + c.name)))),
    ], 'Instantiate', async (fd) => {
      const [kind, v] = String(fd.get('mode')).split(/:(.*)/);
      const body = kind === 'cluster' ? { auto: false, vim: v } : { auto: true, placementPolicy: v };
      const a = await post(`/api/enabler/${enc(e.name)}/instantiate`, body);
      watch(ctx, h('p', null, `Instantiating ${e.name}`), a.operationId, () => scope.wake());
      scope.wake();
    }));
  });
}

function deleteDialog(e, scope) {
  openDialog('Delete ' + e.name, (ctx) => {
    replace(ctx.body, form([
      h('p', null, 'Uninstalls the release (if installed) and deletes the record.'),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'volumes' }), ' also delete its persistent volumes'),
    ], 'Delete', async (fd) => {
      const a = await del(`/api/enabler/${enc(e.name)}` + (fd.get('volumes') ? '?volumes=true' : ''));
      watch(ctx, h('p', null, `Deleting ${e.name}`), a.operationId, () => { location.hash = '#/enablers'; });
      scope.wake();
    }));
  });
}
