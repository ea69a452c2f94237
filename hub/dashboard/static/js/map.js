// The province choropleth: 77 SVG paths precomputed from the mapthai outlines
// (th_provinces.map.json, made by hub/dashboard/build_map.py), shaded by case counts.
// No tiles, no network beyond our own static file: it works offline.

const SVG = 'http://www.w3.org/2000/svg';
export const CLASSES = 5;

// A log scale: one province (Bangkok) usually dwarfs the rest, and a linear scale would
// paint every other province the same pale colour.
export function classOf(count, max) {
  if (!count || count <= 0 || !max) return 0;
  return Math.min(CLASSES, Math.max(1, Math.ceil((CLASSES * Math.log1p(count)) / Math.log1p(max))));
}

// The counts each class covers, for the legend: [[from, to], ...] (integers, may be empty).
export function classRanges(max) {
  const ranges = [];
  let from = 1;
  for (let k = 1; k <= CLASSES; k += 1) {
    const to = k === CLASSES ? max : Math.floor(Math.expm1((Math.log1p(max) * k) / CLASSES) + 1e-9);
    ranges.push([from, to]);
    from = Math.max(from, to + 1);
  }
  return ranges;
}

export function drawMap(svg, doc, onSelect) {
  svg.setAttribute('viewBox', doc.viewBox);
  const group = document.createElementNS(SVG, 'g');
  for (const p of doc.provinces) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', p.d);
    path.setAttribute('class', 'province q0');
    path.dataset.code = p.code;
    path.dataset.count = '0';
    const title = document.createElementNS(SVG, 'title');
    path.append(title);
    path.addEventListener('click', () => onSelect(p.code));
    group.append(path);
  }
  svg.replaceChildren(group);
}

// counts: Map(code → count); label(code, count) gives each path's tooltip text.
export function shadeMap(svg, counts, selected, label) {
  const max = Math.max(0, ...counts.values());
  for (const path of svg.querySelectorAll('path.province')) {
    const code = path.dataset.code;
    const count = counts.get(code) ?? 0;
    const cls = classOf(count, max);
    path.setAttribute('class', `province q${cls}${code === selected ? ' selected' : ''}`);
    path.dataset.count = String(count);
    path.querySelector('title').textContent = label(code, count);
  }
  const chosen = svg.querySelector('path.selected');
  if (chosen) chosen.parentNode.append(chosen); // drawn last, so its outline is on top
  return max;
}
