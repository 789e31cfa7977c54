// Chart repositories: the list, adding one, and a repository's charts, each
// with a Deploy button.
import { get, post, del, enc } from '../api.js';
import { h, replace, row, table, errorBox } from '../dom.js';
import { openDialog, form, field, confirmAction } from '../dialog.js';
import { deployDialog } from './enablers.js';

export function reposPage(main, scope) {
  const list = h('div', { class: 'live' }, h('p', { class: 'muted' }, 'loading …'));
  replace(main,
    h('div', { class: 'title' }, h('h1', null, 'Chart repositories'),
      h('button', { type: 'button', class: 'primary', 'data-action': 'add-repo', onclick: () => addDialog(scope) }, 'Add a repository')),
    list);
  scope.poll(async () => {
    try {
      const repos = await get('/api/chartrepo');
      replace(list, table(['Name', 'Type', 'URL', 'Description', ''], repos.map((r) => row([
        h('a', { href: '#/repos/' + enc(r.id) }, r.name), r.type, r.url, r.description || '',
        h('button', { type: 'button', class: 'small danger', onclick: () => confirmAction('Delete ' + r.name, `Delete the repository ${r.name}? Enablers keep their releases.`, 'Delete', async (ctx) => {
          await del('/api/chartrepo/' + enc(r.id));
          ctx.close();
          scope.wake();
        }) }, 'Delete'),
      ], { 'data-repo': r.name })), { class: 'repos' }));
    } catch (err) { replace(list, errorBox(err)); }
    return false;
  }, { min: 10000, max: 60000 });
}

function addDialog(scope) {
  openDialog('Add a chart repository', (ctx) => {
    replace(ctx.body, form([
      field('Name', h('input', { name: 'name', required: true, autocomplete: 'off' })),
      field('URL', h('input', { name: 'url', required: true, type: 'url', placeholder: 'https://charts.example.com or oci://…' })),
      field('Description', h('input', { name: 'description' })),
      field('User', h('input', { name: 'username', autocomplete: 'off' }), 'only for a private repository'),
      field('Password', h('input', { name: 'password', type: 'password', autocomplete: 'new-password' }), 'stored encrypted, never shown'),
    ], 'Add', async (fd) => {
      const body = { name: fd.get('name'), url: fd.get('url'), description: fd.get('description') };
      if (fd.get('username') || fd.get('password')) body.auth = { username: fd.get('username'), password: fd.get('password') };
      const r = await post('/api/chartrepo', body);
      ctx.close();
      location.hash = '#/repos/' + enc(r.id);
    }));
  });
}

export function repoPage(main, scope, id) {
  const head = h('div', null, h('p', { class: 'muted' }, 'loading …'));
  const charts = h('div', { class: 'live' });
  replace(main, h('p', { class: 'crumbs' }, h('a', { href: '#/repos' }, 'Repositories'), ' / ', id), head, h('h2', null, 'Charts'), charts);
  (async () => {
    let r;
    try { r = await get('/api/chartrepo/' + enc(id)); } catch (err) { replace(head, errorBox(err)); return; }
    replace(head, h('h1', null, r.name), h('dl', { class: 'facts' },
      h('dt', null, 'URL'), h('dd', null, r.url), h('dt', null, 'Type'), h('dd', null, r.type),
      r.username ? [h('dt', null, 'User'), h('dd', null, r.username)] : null,
      h('dt', null, 'Description'), h('dd', null, r.description || '–')));
    try {
      const list = await get(`/api/chartrepo/${enc(id)}/charts`);
      replace(charts, r.type === 'oci' ? h('p', { class: 'muted' }, 'An OCI registry cannot list its charts: deploy with oci://… as the chart.') : null,
        table(['Chart', 'Description', 'Versions', ''], list.map((c) => row([
          c.name, c.description || '', c.versions.slice(0, 5).join(', ') + (c.versions.length > 5 ? ' …' : ''),
          h('button', { type: 'button', class: 'small primary', 'data-action': 'deploy', onclick: () => deployDialog(scope, { chart: `${r.name}/${c.name}`, versions: c.versions }) }, 'Deploy'),
        ], { 'data-chart': c.name })), { class: 'charts' }));
    } catch (err) { replace(charts, errorBox(err)); }
  })();
}
