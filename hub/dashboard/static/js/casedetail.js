// One case as oversight sees it: its index fields and its timeline (who did what when).
// Everything is set as text, never parsed as HTML: the subject and description were
// written by citizens, and this page holds a signing key.

import { el } from './dom.js';
import { eventLabel, num, t, term, when } from './i18n.js';

export function renderCase(item, fieldList, timeline) {
  const area = [item.province && term('provinces', item.province), item.amphoe, item.tambon].filter(Boolean).join(' / ');
  const rows = [
    ['d.case', item.case_id],
    ['d.status', term('statuses', item.status)],
    ['d.category', term('categories', item.category)],
    ['d.area', area || t('unknown')],
    ['d.owner', item.owner ?? '–'],
    ['d.agencies', (item.agencies ?? []).join(', ') || '–'],
    ['d.channels', (item.channels ?? []).map((c) => term('channels', c)).join(', ') || '–'],
    ['d.origin', item.origin_system ?? '–'],
    ['d.reported', when(item.reported_at)],
    ['d.accepted', when(item.accepted_at)],
    ['d.resolved', when(item.resolved_at)],
    ['d.acceptDue', when(item.accept_due)],
    ['d.resolveDue', when(item.resolve_due)],
    ['d.sla', item.sla_breached ? t('c.breached') : t('c.ok')],
    ['d.reopen', num(item.reopen_count ?? 0)],
    ['d.satisfaction', item.satisfaction ?? '–'],
    ['d.location', item.lat !== null && item.lat !== undefined ? `${item.lat}, ${item.lon}` : '–'],
    ['d.subject', item.subject || '–'],
    ['d.description', item.description || '–'],
  ];
  if (item.merged_into) rows.splice(14, 0, ['d.merged', item.merged_into]);
  fieldList.replaceChildren(...rows.flatMap(([key, value]) => [el('dt', null, t(key)), el('dd', null, String(value))]));
  const events = item.timeline ?? [];
  timeline.replaceChildren(...events.map((e) => {
    const li = el('li');
    li.dataset.type = e.type;
    const head = el('div', 'event-head');
    head.append(el('time', 'mono', when(e.at)), el('strong', null, eventLabel(e.type)));
    const detail = [];
    if (e.actor) detail.push(e.actor);
    if (e.status_from && e.status_from !== e.status_to) {
      detail.push(`${term('statuses', e.status_from)} → ${term('statuses', e.status_to)}`);
    } else if (e.status_to) {
      detail.push(term('statuses', e.status_to));
    }
    if (e.owner) detail.push(`${t('d.owner')}: ${e.owner}`);
    li.append(head, el('div', 'muted', detail.join(' · ')));
    return li;
  }));
}
