// Calls to the hub's index API, each with a freshly signed bearer token.
//
// Tokens live 60 s at most (the hub refuses more than its HUB_TOKEN_MAX_SECONDS) and are
// stamped with the hub's clock as estimated from /dashboard/meta.json, so an analyst's
// laptop with a wrong clock still gets in. Errors come back as ApiError carrying the
// problem+json document the hub sent.

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

// Filters → query string; empty values are left out, lists joined by commas (the API's form).
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    search.set(name, Array.isArray(value) ? value.join(',') : String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

// Requests not yet answered, on <body data-inflight> (a test waits for 0 before it reads
// the browser's console, so a late answer cannot log into the next step).
let inflight = 0;
function track(delta) {
  inflight += delta;
  document.body.dataset.inflight = String(inflight);
}

export class Api {
  constructor({ signer, audience, lifetime, clockOffset }) {
    Object.assign(this, { signer, audience, lifetime, clockOffset });
  }

  async request(path, params, options) {
    track(1);
    try {
      return await this.send(path, params, options);
    } finally {
      track(-1);
    }
  }

  async send(path, params = {}, { signal, accept = 'application/json', read = 'json' } = {}) {
    const token = await this.signer.token({
      audience: this.audience,
      lifetime: this.lifetime,
      now: Date.now() + this.clockOffset,
    });
    let response;
    try {
      response = await fetch(path + query(params), {
        headers: { Authorization: `Bearer ${token}`, Accept: `${accept}, application/problem+json` },
        signal,
        cache: 'no-store',
        credentials: 'omit',
        referrerPolicy: 'no-referrer',
      });
    } catch (error) {
      if (error.name === 'AbortError') throw error;
      throw new ApiError(0, { title: 'network', detail: error.message });
    }
    if (!response.ok) {
      let problem = null;
      try {
        problem = await response.json();
      } catch {
        problem = { title: response.statusText };
      }
      throw new ApiError(response.status, problem);
    }
    return read === 'blob' ? response.blob() : response.json();
  }

  async json(path, params, options) {
    return this.request(path, params, { ...options, read: 'json' });
  }

  async blob(path, params, options) {
    return this.request(path, params, { ...options, read: 'blob' });
  }
}

// The hub's clock minus ours, in ms (half the round trip taken as the one-way delay).
export async function loadMeta() {
  const sent = Date.now();
  const response = await fetch('/dashboard/meta.json', { cache: 'no-store' });
  if (!response.ok) throw new ApiError(response.status, { title: response.statusText });
  const meta = await response.json();
  const received = Date.now();
  meta.clockOffset = Date.parse(meta.now) - (sent + received) / 2;
  return meta;
}
