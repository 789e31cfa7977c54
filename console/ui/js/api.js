// The REST API client. The token lives in sessionStorage (this tab only,
// gone when it closes) and travels only in the Authorization header.

const tokenKey = 'smartorch.token';

export class APIError extends Error {
  constructor(status, message, requestId, details) {
    super(message);
    this.status = status;
    this.requestId = requestId;
    this.details = details;
  }
}

export const session = {
  get token() {
    const raw = sessionStorage.getItem(tokenKey);
    if (!raw) return null;
    try {
      const t = JSON.parse(raw);
      if (new Date(t.expires) > new Date()) return t;
    } catch { /* a damaged entry is no session */ }
    sessionStorage.removeItem(tokenKey);
    return null;
  },
  set token(t) {
    if (t) sessionStorage.setItem(tokenKey, JSON.stringify(t));
    else sessionStorage.removeItem(tokenKey);
  },
};

// onUnauthorized is called when the API refuses the token (expired, or the
// key changed): the console goes back to the login form.
export let onUnauthorized = () => {};
export function setUnauthorizedHandler(f) { onUnauthorized = f; }

export async function login(username, password) {
  const t = await request('POST', '/api/login/tokens', { username, password }, { anonymous: true });
  session.token = { ...t, username };
  return t;
}

// request sends one API call and answers the decoded JSON body (null for an
// empty one). Any status but 2xx throws an APIError with the server's message.
export async function request(method, path, body, { anonymous = false, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (!anonymous) {
    const t = session.token;
    if (!t) {
      onUnauthorized();
      throw new APIError(401, 'you are not logged in');
    }
    headers.Authorization = 'Bearer ' + t.token;
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal, cache: 'no-store' });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new APIError(0, 'the API cannot be reached: ' + err.message);
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!resp.ok) {
    if (resp.status === 401 && !anonymous) {
      session.token = null;
      onUnauthorized();
    }
    const message = data?.message || `${resp.status} ${resp.statusText}`;
    throw new APIError(resp.status, message, data?.requestId || resp.headers.get('X-Request-ID'), data?.details);
  }
  return data;
}

export const get = (path, opts) => request('GET', path, undefined, opts);
export const post = (path, body, opts) => request('POST', path, body, opts);
export const del = (path, opts) => request('DELETE', path, undefined, opts);
export const enc = encodeURIComponent;

// listLimit bounds the enablers one list shows (the API's largest page).
export const listLimit = 1000;
