// Horizontal bar charts in plain HTML: a list of rows, each label, bar and number.
// Why HTML and not canvas: screen readers read it, text stays selectable and Thai shapes
// correctly, and a row can be a real <button> that filters the dashboard.

import { el } from './dom.js';
import { t } from './i18n.js';

// rows: [{key, label, value, display?, title?}]; options: {onSelect(key), selected, scaleMax}
export function bars(container, rows, { onSelect = null, selected = null, scaleMax = null } = {}) {
  if (!rows.length) {
    container.replaceChildren(el('p', 'empty', t('none')));
    return;
  }
  const max = scaleMax ?? Math.max(...rows.map((r) => r.value), 0);
  const list = el('ul', 'bar-list');
  for (const row of rows) {
    const item = el('li');
    const body = onSelect ? el('button', 'bar-row') : el('div', 'bar-row');
    if (onSelect) {
      body.type = 'button';
      body.dataset.key = row.key ?? '';
      body.setAttribute('aria-pressed', String(selected !== null && selected === row.key));
      body.addEventListener('click', () => onSelect(row.key));
    }
    body.dataset.value = String(row.value);
    if (row.title) body.title = row.title;
    const track = el('span', 'bar-track');
    const fill = el('span', 'bar-fill');
    fill.style.width = `${max > 0 ? Math.max((row.value / max) * 100, row.value > 0 ? 1.5 : 0) : 0}%`;
    track.append(fill);
    body.append(el('span', 'bar-label', row.label), track, el('span', 'bar-value', row.display ?? String(row.value)));
    item.append(body);
    list.append(item);
  }
  container.replaceChildren(list);
}
