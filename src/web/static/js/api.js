// The API client: the caller's key lives in sessionStorage and goes out as a bearer token.

const KEY = 'stageflow.apiKey';

export const getKey = () => sessionStorage.getItem(KEY);
export const setKey = (key) => sessionStorage.setItem(KEY, key);
export const clearKey = () => sessionStorage.removeItem(KEY);

/** An API answer that was not 2xx; `problem` is the problem+json body when there is one. */
export class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem?.detail ?? problem?.title ?? `HTTP ${status}`;
    super(detail);
    this.status = status;
    this.problem = problem ?? {};
    this.errors = Array.isArray(problem?.errors) ? problem.errors : [];
  }

  /** One line for people: the detail plus the field problems. */
  describe() {
    const fields = this.errors.map((e) => `${e.path}: ${e.message}`);
    return [`${this.message} (${this.status})`, ...fields].join('\n');
  }
}

let onUnauthorized = () => {};
export const whenUnauthorized = (fn) => {
  onUnauthorized = fn;
};

export async function api(method, path, body, { key = getKey(), signal } = {}) {
  // signed out (or the key was refused): no request can succeed, so none is sent
  if (!key) throw new ApiError(401, { detail: 'not signed in' });
  const headers = { accept: 'application/json' };
  headers.authorization = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    cache: 'no-store',
  });
  const text = await res.text();
  let parsed;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = { detail: text.slice(0, 300) };
  }
  if (!res.ok) {
    const err = new ApiError(res.status, parsed);
    if (res.status === 401 && key === getKey()) {
      clearKey();
      onUnauthorized(err);
    }
    throw err;
  }
  return { status: res.status, body: parsed };
}

export const get = async (path, opts) => (await api('GET', path, undefined, opts)).body;

/** The principal behind the stored key (cached for the page's life). */
let mePromise;
export function me() {
  mePromise ??= get('/api/me').catch((err) => {
    mePromise = undefined;
    throw err;
  });
  return mePromise;
}

/** `/a/b?x=1` with the query built from an object, empty values left out. */
export function withQuery(path, query) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export const enc = encodeURIComponent;
