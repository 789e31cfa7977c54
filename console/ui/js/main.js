// The console's shell: login, the hash router (#/clusters/edge-1) and the
// page lifecycle. Routes live in the fragment, which never reaches a server.
import { session, login, setUnauthorizedHandler } from './api.js';
import { h, replace, errorBox } from './dom.js';
import { Scope } from './poll.js';
import { overviewPage } from './pages/overview.js';
import { clustersPage, clusterPage } from './pages/clusters.js';
import { enablersPage, enablerPage } from './pages/enablers.js';
import { reposPage, repoPage } from './pages/repos.js';
import { operationsPage, operationPage } from './pages/operations.js';

const routes = [
  [/^$/, 'overview', overviewPage],
  [/^clusters$/, 'clusters', clustersPage],
  [/^clusters\/([^/]+)$/, 'clusters', clusterPage],
  [/^enablers$/, 'enablers', enablersPage],
  [/^enablers\/([^/]+)$/, 'enablers', enablerPage],
  [/^repos$/, 'repos', reposPage],
  [/^repos\/([^/]+)$/, 'repos', repoPage],
  [/^operations$/, 'operations', operationsPage],
  [/^operations\/([^/]+)$/, 'operations', operationPage],
];

const main = document.getElementById('main');
let scope = null;

function show() {
  scope?.close();
  scope = new Scope();
  const t = session.token;
  document.getElementById('nav').hidden = !t;
  document.getElementById('who').hidden = !t;
  if (!t) return loginPage();
  document.getElementById('user').textContent = t.username;
  const path = location.hash.replace(/^#\/?/, '');
  for (const [re, name, page] of routes) {
    const m = re.exec(path);
    if (!m) continue;
    for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.dataset.page === name);
    const params = m.slice(1).map(decodeURIComponent);
    replace(main);
    page(main, scope, ...params);
    return;
  }
  replace(main, h('h1', null, 'Not found'), h('p', null, 'There is no page ', h('code', null, '#/' + path), '. ', h('a', { href: '#/' }, 'Overview')));
}

function loginPage() {
  const status = h('div');
  const user = h('input', { name: 'username', autocomplete: 'username', required: true, value: 'admin' });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const f = h('form', { class: 'form login', id: 'login' },
    h('h1', null, 'Log in'),
    h('label', { class: 'field' }, h('span', null, 'User'), user),
    h('label', { class: 'field' }, h('span', null, 'Password'), pass),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Log in')),
    status);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await login(user.value, pass.value);
      pass.value = '';
      show();
    } catch (err) {
      replace(status, errorBox(err));
    }
  });
  replace(main, f);
  (user.value ? pass : user).focus();
}

setUnauthorizedHandler(() => { if (!document.getElementById('login')) show(); });
document.getElementById('logout').addEventListener('click', () => { session.token = null; show(); });
window.addEventListener('hashchange', show);
show();
