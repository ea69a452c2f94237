// The dashboard: one set of filters drives every panel. Each change asks the index API for
// two statistics and the first page of cases in parallel (each request with its own
// signed token), cancels whatever the previous change still had in flight, and redraws.
// Filters live in the URL fragment, so a view can be bookmarked and Back undoes a drill-down
// (the fragment never reaches the server or a proxy log).

import { Api, ApiError, loadMeta } from './api.js';
import { KeyProblem, cryptoAvailable, forget, importJwk, remember, remembered } from './auth.js';
import { renderCase } from './casedetail.js';
import { bars } from './charts.js';
import { el } from './dom.js';
import { CLASSES, classRanges, drawMap, shadeMap } from './map.js';
import {
  applyStatic, bytes, getLang, hours, num, pct, setLang, setVocab, t, term, when,
} from './i18n.js';

const FILTERS = [
  'province', 'category', 'status', 'agency', 'owner', 'channel', 'reported_from', 'reported_to', 'sla_breached', 'q',
];
const BUCKETS = ['<1d', '1-7d', '7-30d', '30-90d', '>90d'];
const PAGE = 50;
const TOKEN_SECONDS = 60;

const $ = (selector) => document.querySelector(selector);
const form = $('#filters');
const body = document.body;

const state = {
  meta: null,
  mapDoc: null,
  api: null,
  signer: null,
  keyText: null,
  filters: {},
  sort: '-reported_at',
  controller: null,
  generation: 0,
  stats: null,
  items: [],
  cursor: null,
  total: null,
  totalExact: true,
  agencySort: { key: 'breach_rate', dir: -1 },
  agencyCodes: new Set(),
  firstRenderAt: null,
  firstPieceAt: null,
  keyLoadedAt: null,
};

// --------------------------------------------------------------------------- helpers

function provinceName(code) {
  if (!code) return t('unknown');
  return term('provinces', code);
}

function setState(value) {
  body.dataset.state = value;
  $('#main').setAttribute('aria-busy', String(value === 'loading'));
}

function showAlert(message) {
  const box = $('#alert');
  box.textContent = message;
  box.hidden = !message;
}

function explain(error) {
  if (error instanceof KeyProblem) return t('key.bad', { detail: error.message });
  if (error instanceof ApiError) {
    const detail = error.problem?.detail || error.problem?.title || '';
    if (error.status === 401) return t('err.401', { detail });
    if (error.status === 403) return t('err.403', { detail });
    if (error.status === 0) return t('err.network', { detail });
    return t('err.other', { status: error.status, detail });
  }
  return t('err.other', { status: '–', detail: String(error?.message ?? error) });
}

function fail(error) {
  if (error?.name === 'AbortError') return;
  showAlert(explain(error));
  setState('error');
  body.dataset.errorStatus = String(error?.status ?? '');
}

// --------------------------------------------------------------------------- filters

function readForm() {
  const data = new FormData(form);
  const filters = {};
  for (const name of FILTERS) {
    const value = String(data.get(name) ?? '').trim();
    if (value) filters[name] = value;
  }
  return filters;
}

function writeForm(filters) {
  for (const name of FILTERS) {
    const field = form.elements.namedItem(name);
    if (field) field.value = filters[name] ?? '';
  }
  $('#sort').value = state.sort;
}

function readHash() {
  const search = new URLSearchParams(location.hash.slice(1));
  const filters = {};
  for (const name of FILTERS) {
    const value = search.get(name);
    if (value) filters[name] = value;
  }
  state.sort = search.get('sort') || '-reported_at';
  return filters;
}

function pushHash() {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(state.filters)) search.set(name, value);
  if (state.sort !== '-reported_at') search.set('sort', state.sort);
  const hash = search.toString();
  if (hash !== location.hash.slice(1)) history.pushState(null, '', hash ? `#${hash}` : location.pathname);
}

function nextDay(day) {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

// The API's parameters. The date fields are whole days in Thailand's time zone (UTC+7),
// both inclusive; the API's `reported_to` is exclusive, so it gets the next midnight.
function apiParams() {
  const params = { ...state.filters };
  if (params.reported_from) params.reported_from = `${params.reported_from}T00:00:00+07:00`;
  if (params.reported_to) params.reported_to = `${nextDay(params.reported_to)}T00:00:00+07:00`;
  return params;
}

function setFilter(name, value) {
  const next = { ...state.filters };
  if (value === null || value === undefined || value === '' || next[name] === value) delete next[name];
  else next[name] = value;
  applyFilters(next);
}

function applyFilters(filters) {
  state.filters = filters;
  writeForm(filters);
  pushHash();
  refresh();
}

// --------------------------------------------------------------------------- data

async function refresh() {
  if (!state.api) return;
  state.controller?.abort();
  const controller = new AbortController();
  state.controller = controller;
  const generation = ++state.generation;
  const params = apiParams();
  const { signal } = controller;
  const current = () => generation === state.generation;
  setState('loading');
  // Each answer is drawn as soon as it arrives; until all are in, the page is marked busy.
  // The headline comes from the two cheap calls: the case list with its total, and the
  // per-province aggregate (count, open, breached: the map, the open count, the breach
  // rates). The counts call (performance=false) answers from summaries at once; its
  // category × status table gives both one-way counts (a case has one of each). The agency
  // table's medians and 90th percentiles cost more (approximate from histograms where they
  // answer, else exact over every matching case), so they come from a call of their own and
  // fill in last; the line under the table says which they are. The monthly trend costs another
  // statistics call, so it is asked for only while its panel is open.
  const parts = [
    state.api.json('/v1/index/complaints', { ...params, sort: state.sort, limit: PAGE }, { signal })
      .then((page) => current() && drawn(() => {
        Object.assign(state, { items: page.items, cursor: page.next_cursor, total: page.total, totalExact: page.total_exact });
        renderCases();
      })),
    state.api.json('/v1/index/map.geojson', { ...params, level: 'province' }, { signal, accept: 'application/geo+json' })
      .then((geo) => current() && drawn(() => { state.stats.geo = geo; renderGeo(); })),
    state.api.json('/v1/index/stats', { ...params, group_by: 'category,status', performance: false }, { signal })
      .then((place) => current() && drawn(() => { state.stats.place = place; renderPlace(); })),
    // the agency table's times (approximate from histograms by default; exact, sorting
    // every matching case, where no histogram answers the filters): asked for on their own
    state.api.json('/v1/index/stats', { ...params, group_by: 'status' }, { signal })
      .then((perf) => current() && drawn(() => { state.stats.perf = perf; renderAgencies(perf.by_agency); })),
  ];
  if ($('#month-panel').open) parts.push(loadMonths(params, signal, current));
  try {
    await Promise.all(parts);
    if (!current()) return;
    showAlert('');
    body.dataset.generation = String(generation);
    if (state.firstRenderAt === null && state.keyLoadedAt) {
      state.firstRenderAt = performance.now();
      body.dataset.firstRenderMs = String(Math.round(state.firstRenderAt - state.keyLoadedAt));
    }
    setState('ready');
  } catch (error) {
    controller.abort(); // one part failed: the others' answers would not be shown
    if (current()) fail(error);
  }
}

function loadMonths(params, signal, current) {
  return state.api.json('/v1/index/stats', { ...params, group_by: 'month', performance: false }, { signal })
    .then((months) => current() && drawn(() => { state.stats.months = months; renderMonths(); }));
}

function drawn(paint) {
  if (!state.stats) state.stats = {};
  paint();
  if (state.firstPieceAt === null && state.keyLoadedAt) {
    state.firstPieceAt = performance.now();
    body.dataset.firstPieceMs = String(Math.round(state.firstPieceAt - state.keyLoadedAt));
  }
  return true;
}

async function loadMore() {
  if (!state.cursor || !state.api) return;
  const button = $('#more');
  button.disabled = true;
  try {
    const page = await state.api.json('/v1/index/complaints', {
      ...apiParams(), sort: state.sort, limit: PAGE, cursor: state.cursor,
    });
    state.items = state.items.concat(page.items);
    state.cursor = page.next_cursor;
    renderCases();
  } catch (error) {
    fail(error);
  } finally {
    button.disabled = false;
  }
}

// --------------------------------------------------------------------------- rendering

function render() {
  if (state.stats?.geo) renderGeo();
  if (state.stats?.place) renderPlace();
  if (state.stats?.perf) renderAgencies(state.stats.perf.by_agency);
  if (state.stats?.months) renderMonths();
  renderCases();
}

// Per province: {province, cases, open, breached}, from the map aggregate.
function provinceRows() {
  return state.stats.geo.features.map((f) => ({
    province: f.properties.province ?? null,
    cases: f.properties.count,
    open: f.properties.open,
    breached: f.properties.breached,
  }));
}

function renderGeo() {
  const rows = provinceRows();
  const sum = (key) => rows.reduce((total, r) => total + r[key], 0);
  const total = sum('cases');
  setKpi('#kpi-total', total, num(total));
  setKpi('#kpi-open', sum('open'), num(sum('open')));
  const rate = total ? sum('breached') / total : null;
  setKpi('#kpi-breach', rate, pct(rate));
  renderMap(rows);
  renderSla(rows.map((r) => ({ ...r, breach_rate: r.cases ? r.breached / r.cases : null })));
}

function renderPlace() {
  const { place } = state.stats;
  setKpi('#kpi-reopen', place.reopen_rate, pct(place.reopen_rate));
  const sat = place.satisfaction ?? { mean: null, count: 0 };
  const satText = sat.mean === null ? '–' : `${num(sat.mean, { maximumFractionDigits: 2 })} (${num(sat.count)})`;
  setKpi('#kpi-satisfaction', sat.mean, satText);
  renderMarginal('#chart-category', place.groups, 'category', 'categories');
  renderMarginal('#chart-status', place.groups, 'status', 'statuses');
  renderBacklog(place.backlog);
}

function setKpi(id, value, display) {
  const out = $(id);
  out.value = display;
  out.textContent = display;
  out.dataset.value = value === null || value === undefined ? '' : String(value);
}

function renderMap(byProvince) {
  const counts = new Map(byProvince.filter((p) => p.province).map((p) => [p.province, p.cases]));
  const unknown = byProvince.filter((p) => !p.province).reduce((sum, p) => sum + p.cases, 0);
  const max = shadeMap($('#map'), counts, state.filters.province ?? null, (code, count) =>
    t('map.title', { name: provinceName(code), count: num(count) }));
  const legend = $('#map-legend');
  legend.replaceChildren();
  legend.setAttribute('aria-label', t('legend'));
  const zero = el('li');
  zero.append(el('span', 'swatch q0'), el('span', null, t('legend.zero')));
  legend.append(zero);
  if (max > 0) {
    classRanges(max).forEach(([from, to], i) => {
      if (to < from) return;
      const item = el('li');
      item.append(el('span', `swatch q${i + 1}`), el('span', null, from === to ? num(from) : `${num(from)}–${num(to)}`));
      legend.append(item);
    });
  }
  legend.dataset.classes = String(CLASSES);
  const top = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 10);
  const rows = top.map(([code, count]) => ({ key: code, label: provinceName(code), value: count, display: num(count) }));
  if (unknown) rows.push({ key: '', label: t('unknown'), value: unknown, display: num(unknown) });
  bars($('#province-top'), rows, {
    selected: state.filters.province ?? null,
    onSelect: (code) => code && setFilter('province', code),
  });
}

// One dimension's counts from a two-way table: Map(key → count), null keys included.
function marginal(groups, dim) {
  const totals = new Map();
  for (const g of groups) totals.set(g[dim], (totals.get(g[dim]) ?? 0) + g.count);
  return totals;
}

function renderMarginal(selector, groups, dim, vocabKind) {
  const rows = [...marginal(groups, dim).entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([key, count]) => ({ key, label: term(vocabKind, key), value: count, display: num(count) }));
  bars($(selector), rows, { selected: state.filters[dim] ?? null, onSelect: (key) => key && setFilter(dim, key) });
}

function renderBacklog(backlog) {
  const counts = new Map((backlog ?? []).map((b) => [b.bucket, b.count]));
  const rows = BUCKETS.map((bucket) => ({
    key: bucket, label: t(`bucket.${bucket}`), value: counts.get(bucket) ?? 0, display: num(counts.get(bucket) ?? 0),
  }));
  bars($('#chart-backlog'), rows);
}

function renderSla(byProvince) {
  const rows = byProvince
    .filter((p) => p.breach_rate !== null && p.breach_rate !== undefined && p.cases > 0)
    .sort((a, b) => b.breach_rate - a.breach_rate || b.cases - a.cases)
    .slice(0, 10)
    .map((p) => ({
      key: p.province,
      label: provinceName(p.province),
      value: p.breach_rate,
      display: pct(p.breach_rate),
      title: `${provinceName(p.province)}: ${pct(p.breach_rate)} · ${num(p.cases)}`,
    }));
  bars($('#chart-sla'), rows, {
    scaleMax: 1, selected: state.filters.province ?? null, onSelect: (code) => code && setFilter('province', code),
  });
}

function monthLabel(key) {
  const match = /^(\d{4})-(\d{2})$/.exec(key ?? '');
  if (!match) return key ?? t('unknown');
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 15));
  return new Intl.DateTimeFormat(getLang() === 'th' ? 'th-TH' : 'en-GB', { month: 'short', year: 'numeric', timeZone: 'UTC' }).format(date);
}

function renderMonths() {
  const rows = [...marginal(state.stats.months.groups, 'month').entries()]
    .filter(([month]) => month)
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .slice(-24)
    .map(([month, count]) => ({ key: month, label: monthLabel(month), value: count, display: num(count) }));
  bars($('#chart-month'), rows, {
    onSelect: (month) => {
      const [y, m] = month.split('-').map(Number);
      const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
      applyFilters({ ...state.filters, reported_from: `${month}-01`, reported_to: `${month}-${String(last).padStart(2, '0')}` });
    },
  });
}

function renderAgencies(rows) {
  const method = state.stats?.perf?.percentiles;
  $('#agency-times').textContent = !method ? ''
    : method.method === 'approx'
      ? t('a.timesApprox', {
        pct: Math.round((method.relative_error ?? 0) * 100),
        min: Math.round((method.absolute_error_h ?? 0) * 60),
      })
      : t('a.timesExact');
  for (const r of rows) if (r.agency) state.agencyCodes.add(r.agency);
  const list = $('#agency-list');
  list.replaceChildren(...[...state.agencyCodes].sort().map((code) => {
    const option = document.createElement('option');
    option.value = code;
    return option;
  }));
  const { key, dir } = state.agencySort;
  const sorted = [...rows].sort((a, b) => {
    const x = a[key];
    const y = b[key];
    if (x === y) return a.agency < b.agency ? -1 : 1;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * dir;
  });
  for (const th of document.querySelectorAll('#agency-table th')) {
    const button = th.querySelector('button');
    th.setAttribute('aria-sort', button?.dataset.sort === key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
  }
  const tbody = $('#agency-table tbody');
  if (!sorted.length) {
    const tr = el('tr');
    const td = el('td', 'empty', t('none'));
    td.colSpan = 8;
    tr.append(td);
    tbody.replaceChildren(tr);
    return;
  }
  tbody.replaceChildren(...sorted.map((r) => {
    const tr = el('tr');
    tr.dataset.agency = r.agency ?? '';
    if (state.filters.owner === r.agency) tr.className = 'selected';
    const name = el('th');
    name.scope = 'row';
    if (r.agency) {
      const button = el('button', 'link mono', r.agency);
      button.type = 'button';
      button.title = t('a.filter', { agency: r.agency });
      button.addEventListener('click', () => setFilter('owner', r.agency));
      name.append(button);
    } else {
      name.textContent = t('a.nobody');
    }
    tr.append(
      name,
      el('td', 'num', num(r.cases)),
      el('td', 'num', num(r.open)),
      el('td', 'num', num(r.resolved)),
      el('td', 'num', hours(r.accept_median_h)),
      el('td', 'num', hours(r.resolve_median_h)),
      el('td', 'num', hours(r.resolve_p90_h)),
      el('td', `num${r.breach_rate > 0.2 ? ' bad' : ''}`, pct(r.breach_rate)),
    );
    return tr;
  }));
}

function renderCases() {
  const tbody = $('#case-table tbody');
  const count = $('#cases-count');
  if (state.total !== null) {
    const key = state.totalExact ? 'c.count' : 'c.countApprox';
    count.textContent = t(key, { shown: num(state.items.length), total: num(state.total) });
    count.dataset.total = String(state.total);
    count.dataset.shown = String(state.items.length);
  }
  $('#more').hidden = !state.cursor;
  if (!state.items.length) {
    const tr = el('tr');
    const td = el('td', 'empty', t('none'));
    td.colSpan = 8;
    tr.append(td);
    tbody.replaceChildren(tr);
    return;
  }
  tbody.replaceChildren(...state.items.map((item) => {
    const tr = el('tr');
    tr.dataset.caseId = item.case_id;
    const idCell = el('td');
    const open = el('button', 'link mono', item.case_id);
    open.type = 'button';
    open.setAttribute('aria-label', t('c.open', { id: item.case_id }));
    open.addEventListener('click', () => openCase(item.case_id));
    idCell.append(open);
    const sla = el('td', item.sla_breached ? 'bad' : 'ok', item.sla_breached ? t('c.breached') : t('c.ok'));
    tr.append(
      el('td', 'nowrap', when(item.reported_at)),
      idCell,
      el('td', null, term('categories', item.category)),
      el('td', null, provinceName(item.province)),
      el('td', null, term('statuses', item.status)),
      el('td', 'mono', item.owner ?? '–'),
      sla,
      el('td', 'subject', item.subject || item.description || ''),
    );
    return tr;
  }));
}

// --------------------------------------------------------------------------- drill-down

async function openCase(caseId) {
  const dialog = $('#case-dialog');
  const fields = $('#case-fields');
  const timeline = $('#case-timeline');
  fields.replaceChildren(el('p', 'muted', t('loading')));
  timeline.replaceChildren();
  dialog.dataset.state = 'loading';
  if (!dialog.open) dialog.showModal();
  try {
    const item = await state.api.json(`/v1/index/cases/${encodeURIComponent(caseId)}`);
    renderCase(item, fields, timeline);
    dialog.dataset.state = 'ready';
    dialog.dataset.caseId = item.case_id;
  } catch (error) {
    dialog.close();
    fail(error);
  }
}

// --------------------------------------------------------------------------- export

async function exportFile(kind) {
  if (!state.api) return;
  const status = $('#export-status');
  status.textContent = t('export.busy');
  const ndjson = kind === 'ndjson';
  const path = ndjson ? '/v1/index/export.ndjson' : '/v1/index/export.csv';
  const params = apiParams();
  if (!ndjson) params.bom = kind === 'csv-bom' ? 'true' : 'false';
  try {
    const blob = await state.api.blob(path, params, { accept: ndjson ? 'application/x-ndjson' : 'text/csv' });
    const stamp = new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '');
    const name = `complaints-${stamp}${kind === 'csv-bom' ? '-excel' : ''}.${ndjson ? 'ndjson' : 'csv'}`;
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    status.textContent = t('export.done', { name, size: bytes(blob.size) });
    status.dataset.file = name;
    status.dataset.bytes = String(blob.size);
  } catch (error) {
    status.textContent = '';
    fail(error);
  }
}

// --------------------------------------------------------------------------- key

function showKey() {
  const signer = state.signer;
  $('#key-status').textContent = signer
    ? t('key.as', { agency: signer.agency, kid: signer.kid.split('/')[1], alg: signer.alg })
    : t('key.none');
  $('#key-status').dataset.agency = signer?.agency ?? '';
  $('#key-forget').hidden = !signer;
}

async function useKey(text) {
  const signer = await importJwk(text);
  state.signer = signer;
  state.keyText = text;
  state.api = new Api({
    signer,
    audience: state.meta.audience,
    lifetime: Math.min(TOKEN_SECONDS, state.meta.token_max_seconds),
    clockOffset: state.meta.clockOffset,
  });
  if ($('#key-remember').checked) remember(text);
  state.keyLoadedAt = performance.now();
  state.firstRenderAt = null;
  state.firstPieceAt = null;
  showKey();
  showAlert('');
  await refresh();
}

// Signing out: the key, and everything it let us see, leave the page.
function dropKey() {
  state.controller?.abort();
  Object.assign(state, { signer: null, api: null, keyText: null, stats: null, items: [], cursor: null, total: null });
  forget();
  for (const id of ['#kpi-total', '#kpi-open', '#kpi-breach', '#kpi-reopen', '#kpi-satisfaction']) setKpi(id, null, '–');
  for (const id of ['#province-top', '#chart-category', '#chart-status', '#chart-backlog', '#chart-sla', '#chart-month']) {
    $(id).replaceChildren();
  }
  $('#agency-table tbody').replaceChildren();
  $('#case-table tbody').replaceChildren();
  $('#cases-count').textContent = '';
  delete $('#cases-count').dataset.total;
  $('#more').hidden = true;
  $('#map-legend').replaceChildren();
  shadeMap($('#map'), new Map(), null, (code) => provinceName(code));
  showKey();
  showAlert('');
  setState('need-key');
}

// --------------------------------------------------------------------------- start

function populate(select, entries) {
  const first = select.options[0];
  select.replaceChildren(first, ...entries.map(([value, label]) => {
    const option = document.createElement('option');
    option.value = value;
    option.textContent = label;
    return option;
  }));
}

function populateFilters() {
  const lang = getLang();
  const collator = new Intl.Collator(lang === 'th' ? 'th' : 'en');
  const byLabel = (a, b) => collator.compare(a[1], b[1]);
  const m = state.meta;
  populate(form.elements.namedItem('province'), state.mapDoc.provinces.map((p) => [p.code, p[lang]]).sort(byLabel));
  populate(form.elements.namedItem('category'), Object.keys(m.categories).map((c) => [c, term('categories', c)]).sort(byLabel));
  populate(form.elements.namedItem('status'), Object.keys(m.statuses).map((s) => [s, term('statuses', s)]));
  populate(form.elements.namedItem('channel'), Object.keys(m.channels).map((c) => [c, term('channels', c)]).sort(byLabel));
  writeForm(state.filters);
}

function switchLanguage() {
  const next = getLang() === 'th' ? 'en' : 'th';
  setLang(next);
  localStorage.setItem('hub.dashboard.lang', next);
  applyStatic();
  $('#lang').textContent = t('lang');
  $('#lang').lang = next === 'th' ? 'en' : 'th';
  populateFilters();
  showKey();
  render();
}

function wire() {
  form.addEventListener('submit', (e) => e.preventDefault());
  form.addEventListener('change', (e) => {
    if (e.target.name === 'q') return; // typed text: the debounced input handler has it
    state.filters = readForm();
    pushHash();
    refresh();
  });
  let typing = null;
  form.elements.namedItem('q').addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      const filters = readForm();
      if ((filters.q ?? '') === (state.filters.q ?? '')) return;
      state.filters = filters;
      pushHash();
      refresh();
    }, 350);
  });
  form.addEventListener('reset', (e) => {
    e.preventDefault();
    applyFilters({});
  });
  $('#sort').addEventListener('change', (e) => {
    state.sort = e.target.value;
    pushHash();
    refresh();
  });
  window.addEventListener('popstate', () => {
    state.filters = readHash();
    writeForm(state.filters);
    refresh();
  });
  $('#more').addEventListener('click', loadMore);
  $('#month-panel').addEventListener('toggle', () => {
    if (!$('#month-panel').open || !state.api) return;
    const generation = state.generation;
    const signal = state.controller?.signal.aborted ? undefined : state.controller?.signal;
    loadMonths(apiParams(), signal, () => generation === state.generation).catch(fail);
  });
  $('#case-close').addEventListener('click', () => $('#case-dialog').close());
  for (const button of document.querySelectorAll('[data-export]')) {
    button.addEventListener('click', () => exportFile(button.dataset.export));
  }
  for (const button of document.querySelectorAll('#agency-table button[data-sort]')) {
    button.addEventListener('click', () => {
      const key = button.dataset.sort;
      const { key: current, dir } = state.agencySort;
      state.agencySort = { key, dir: key === current ? -dir : key === 'agency' ? 1 : -1 };
      if (state.stats?.perf) renderAgencies(state.stats.perf.by_agency);
    });
  }
  $('#key-file').addEventListener('change', async (e) => {
    const file = e.target.files?.[0];
    e.target.value = ''; // the same file may be chosen again after "forget"
    if (!file) return;
    try {
      await useKey(await file.text());
    } catch (error) {
      fail(error);
    }
  });
  $('#key-remember').addEventListener('change', (e) => {
    if (!e.target.checked) forget();
    else if (state.keyText) remember(state.keyText);
  });
  $('#key-forget').addEventListener('click', dropKey);
  $('#lang').addEventListener('click', switchLanguage);
}

async function start() {
  setLang(localStorage.getItem('hub.dashboard.lang') || 'th');
  applyStatic();
  $('#lang').textContent = t('lang');
  $('#lang').lang = getLang() === 'th' ? 'en' : 'th';
  wire();
  const [meta, mapDoc] = await Promise.all([
    loadMeta(),
    fetch('/dashboard/static/th_provinces.map.json').then((r) => r.json()),
  ]);
  state.meta = meta;
  state.mapDoc = mapDoc;
  const provinces = Object.fromEntries(mapDoc.provinces.map((p) => [p.code, { th: p.th, en: p.en }]));
  setVocab({ categories: meta.categories, statuses: meta.statuses, channels: meta.channels, provinces });
  drawMap($('#map'), mapDoc, (code) => setFilter('province', code));
  state.filters = readHash();
  populateFilters();
  showKey();
  if (!cryptoAvailable()) {
    showAlert(t('key.noCrypto'));
    setState('no-crypto');
    return;
  }
  const saved = remembered();
  if (saved) {
    $('#key-remember').checked = true;
    try {
      await useKey(saved);
      return;
    } catch (error) {
      forget();
      fail(error);
      return;
    }
  }
  setState('need-key');
}

start().catch(fail);
