// Thai and English labels. Thai first: the users are Thai civil servants; English for
// partners and auditors. Vocabulary labels (categories, statuses, channels) come from the
// hub's own vocabularies via /dashboard/meta.json, so they never disagree with the data.

const STRINGS = {
  th: {
    skip: 'ข้ามไปยังเนื้อหา',
    title: 'ภาพรวมเรื่องร้องเรียนระดับประเทศ',
    subtitle: 'แดชบอร์ดสำหรับหน่วยงานกำกับติดตาม · ไม่แสดงข้อมูลส่วนบุคคล',
    'key.none': 'ยังไม่ได้โหลดกุญแจ: เลือกไฟล์กุญแจส่วนตัวของหน่วยงาน (จาก hub keys generate)',
    'key.load': 'โหลดไฟล์กุญแจส่วนตัว (JWK)',
    'key.remember': 'จำไว้ในแท็บนี้',
    'key.forget': 'ลืมกุญแจ',
    'key.as': 'ลงนามในนาม {agency} · กุญแจ {kid} · {alg}',
    'key.help': 'กุญแจอยู่ในเบราว์เซอร์นี้เท่านั้น: ใช้ลงนามโทเค็นอายุสั้นทีละคำขอ และไม่ถูกส่งออกไป',
    'key.bad': 'ใช้ไฟล์กุญแจนี้ไม่ได้: {detail}',
    'key.noCrypto': 'เบราว์เซอร์นี้ลงนามไม่ได้ (ต้องเปิดผ่าน HTTPS หรือ localhost และรองรับ WebCrypto Ed25519/ES256)',
    filters: 'ตัวกรอง',
    any: 'ทั้งหมด',
    'f.province': 'จังหวัด',
    'f.category': 'ประเภท',
    'f.status': 'สถานะ',
    'f.agency': 'หน่วยงานที่เกี่ยวข้อง (รหัส)',
    'f.owner': 'ผู้รับผิดชอบปัจจุบัน (รหัส)',
    'f.channel': 'ช่องทาง',
    'f.from': 'แจ้งตั้งแต่วันที่',
    'f.to': 'ถึงวันที่',
    'f.sla': 'SLA',
    'sla.yes': 'เกินกำหนด',
    'sla.no': 'ไม่เกินกำหนด',
    'f.q': 'ค้นหาข้อความ',
    reset: 'ล้างตัวกรอง',
    kpis: 'ตัวเลขสำคัญ',
    'kpi.total': 'เรื่องทั้งหมด',
    'kpi.open': 'ค้างดำเนินการ',
    'kpi.breach': 'อัตราเกินกำหนด SLA',
    'kpi.reopen': 'อัตราเปิดเรื่องใหม่',
    'kpi.satisfaction': 'ความพึงพอใจ (1–5)',
    'p.map': 'จำนวนเรื่องรายจังหวัด',
    'p.topProvinces': 'จังหวัดที่มีเรื่องมากที่สุด',
    'p.category': 'ตามประเภท',
    'p.status': 'ตามสถานะ',
    'p.backlog': 'เรื่องค้างตามอายุเรื่อง',
    'p.sla': 'อัตราเกินกำหนด SLA รายจังหวัด',
    'p.month': 'รายเดือน (วันที่แจ้ง)',
    'p.agencies': 'ผลการดำเนินงานของหน่วยงาน (ตามผู้รับผิดชอบปัจจุบัน)',
    'p.agenciesCaption': 'เรียงได้โดยคลิกหัวตาราง; เลือกหน่วยงานเพื่อกรอง',
    'p.cases': 'รายการเรื่อง',
    'a.agency': 'หน่วยงาน',
    'a.cases': 'เรื่อง',
    'a.open': 'ค้าง',
    'a.resolved': 'เสร็จ',
    'a.acceptMedian': 'รับเรื่อง (มัธยฐาน ชม.)',
    'a.resolveMedian': 'แก้ไขเสร็จ (มัธยฐาน ชม.)',
    'a.resolveP90': 'แก้ไขเสร็จ (P90 ชม.)',
    'a.breach': 'เกิน SLA',
    'a.timesApprox': 'เวลาเป็นค่าประมาณจากฮิสโตแกรม (คลาดเคลื่อนไม่เกิน {pct}% + {min} นาที)',
    'a.timesExact': 'เวลาคำนวณจากทุกเรื่องที่ตรงเงื่อนไข (ค่าจริง)',
    'a.nobody': '(ยังไม่มีผู้รับผิดชอบ)',
    'a.filter': 'กรองเฉพาะเรื่องที่ {agency} รับผิดชอบอยู่',
    sort: 'เรียงตาม',
    'sort.newest': 'แจ้งล่าสุดก่อน',
    'sort.oldest': 'แจ้งเก่าสุดก่อน',
    'sort.resolved': 'แก้ไขเสร็จล่าสุดก่อน',
    export: 'ส่งออกตามตัวกรอง:',
    'export.csv': 'CSV',
    'export.excel': 'CSV สำหรับ Excel',
    'export.ndjson': 'NDJSON',
    'export.busy': 'กำลังส่งออก…',
    'export.done': 'บันทึก {name} ({size})',
    'c.reported': 'วันที่แจ้ง',
    'c.case': 'เรื่อง',
    'c.category': 'ประเภท',
    'c.province': 'จังหวัด',
    'c.status': 'สถานะ',
    'c.owner': 'ผู้รับผิดชอบ',
    'c.sla': 'SLA',
    'c.subject': 'หัวข้อ (ลบข้อมูลส่วนบุคคลแล้ว)',
    'c.count': '{shown} จาก {total} เรื่อง',
    'c.countApprox': '{shown} จากประมาณ {total} เรื่อง',
    'c.breached': 'เกินกำหนด',
    'c.ok': 'ตามกำหนด',
    'c.open': 'เปิดรายละเอียดเรื่อง {id}',
    more: 'โหลดเพิ่ม',
    'd.title': 'รายละเอียดเรื่อง',
    'd.timeline': 'ลำดับเหตุการณ์ (ไม่มีข้อมูลส่วนบุคคล)',
    'd.case': 'เลขเรื่อง',
    'd.status': 'สถานะ',
    'd.category': 'ประเภท',
    'd.area': 'พื้นที่ (จังหวัด/อำเภอ/ตำบล)',
    'd.owner': 'ผู้รับผิดชอบ',
    'd.agencies': 'หน่วยงานที่เกี่ยวข้อง',
    'd.channels': 'ช่องทาง',
    'd.origin': 'ระบบต้นทาง',
    'd.reported': 'วันที่แจ้ง',
    'd.accepted': 'วันที่รับเรื่อง',
    'd.resolved': 'วันที่แก้ไขเสร็จ',
    'd.acceptDue': 'กำหนดรับเรื่อง',
    'd.resolveDue': 'กำหนดแก้ไขเสร็จ',
    'd.sla': 'SLA',
    'd.merged': 'รวมเข้ากับเรื่อง',
    'd.reopen': 'จำนวนครั้งที่เปิดใหม่',
    'd.satisfaction': 'ความพึงพอใจ',
    'd.subject': 'หัวข้อ',
    'd.description': 'รายละเอียด',
    'd.location': 'พิกัด (ปัดเศษ)',
    close: 'ปิด',
    none: 'ไม่มีข้อมูลตามตัวกรองนี้',
    unknown: 'ไม่ระบุ',
    loading: 'กำลังโหลด…',
    legend: 'คำอธิบายสัญลักษณ์',
    'legend.zero': 'ไม่มีเรื่อง',
    'map.title': '{name}: {count} เรื่อง',
    'bucket.<1d': 'น้อยกว่า 1 วัน',
    'bucket.1-7d': '1–7 วัน',
    'bucket.7-30d': '7–30 วัน',
    'bucket.30-90d': '30–90 วัน',
    'bucket.>90d': 'มากกว่า 90 วัน',
    'err.401': 'ฮับไม่รับโทเค็นที่ลงนาม (401): {detail} — ตรวจว่ากุญแจนี้ลงทะเบียนกับฮับแล้วและยังไม่ถูกเพิกถอน',
    'err.403': 'หน่วยงานนี้ไม่มีสิทธิ์ดูข้อมูลนี้ (403): {detail} — ต้องมีบทบาท oversight หรือ admin',
    'err.other': 'เรียกข้อมูลไม่สำเร็จ ({status}): {detail}',
    'err.network': 'ติดต่อฮับไม่ได้: {detail}',
    'foot.privacy': 'ข้อความที่แสดงถูกลบเบอร์โทรศัพท์ อีเมล และเลขประจำตัวประชาชนแล้ว ข้อมูลผู้ร้องไม่ปรากฏในแดชบอร์ดนี้',
    lang: 'English',
  },
  en: {
    skip: 'Skip to content',
    title: 'National complaints overview',
    subtitle: 'Oversight dashboard · no personal data shown',
    'key.none': "No key loaded: choose your agency's private key file (from hub keys generate)",
    'key.load': 'Load private key (JWK)',
    'key.remember': 'Keep for this tab',
    'key.forget': 'Forget key',
    'key.as': 'Signing as {agency} · key {kid} · {alg}',
    'key.help': 'The key stays in this browser: it signs one short-lived token per request and is never sent.',
    'key.bad': 'Cannot use this key file: {detail}',
    'key.noCrypto': 'This browser cannot sign (open the dashboard over HTTPS or on localhost, with WebCrypto Ed25519/ES256)',
    filters: 'Filters',
    any: 'All',
    'f.province': 'Province',
    'f.category': 'Category',
    'f.status': 'Status',
    'f.agency': 'Any agency on the case (code)',
    'f.owner': 'Current owner (code)',
    'f.channel': 'Channel',
    'f.from': 'Reported from',
    'f.to': 'Reported to',
    'f.sla': 'SLA',
    'sla.yes': 'Breached',
    'sla.no': 'Within SLA',
    'f.q': 'Search text',
    reset: 'Clear filters',
    kpis: 'Key figures',
    'kpi.total': 'Cases',
    'kpi.open': 'Open',
    'kpi.breach': 'SLA breach rate',
    'kpi.reopen': 'Reopen rate',
    'kpi.satisfaction': 'Satisfaction (1–5)',
    'p.map': 'Cases by province',
    'p.topProvinces': 'Provinces with most cases',
    'p.category': 'By category',
    'p.status': 'By status',
    'p.backlog': 'Open cases by age',
    'p.sla': 'SLA breach rate by province',
    'p.month': 'By month reported',
    'p.agencies': 'Agency performance (by current owner)',
    'p.agenciesCaption': 'Sort by clicking a column header; choose an agency to filter',
    'p.cases': 'Cases',
    'a.agency': 'Agency',
    'a.cases': 'Cases',
    'a.open': 'Open',
    'a.resolved': 'Resolved',
    'a.acceptMedian': 'Accept (median h)',
    'a.resolveMedian': 'Resolve (median h)',
    'a.resolveP90': 'Resolve (p90 h)',
    'a.breach': 'SLA breached',
    'a.timesApprox': 'Times are approximate, from histograms (within {pct}% + {min} min)',
    'a.timesExact': 'Times are exact, from every matching case',
    'a.nobody': '(no owner yet)',
    'a.filter': 'Show the cases {agency} holds',
    sort: 'Sort',
    'sort.newest': 'Newest first',
    'sort.oldest': 'Oldest first',
    'sort.resolved': 'Recently resolved first',
    export: 'Export with these filters:',
    'export.csv': 'CSV',
    'export.excel': 'CSV for Excel',
    'export.ndjson': 'NDJSON',
    'export.busy': 'Exporting…',
    'export.done': 'Saved {name} ({size})',
    'c.reported': 'Reported',
    'c.case': 'Case',
    'c.category': 'Category',
    'c.province': 'Province',
    'c.status': 'Status',
    'c.owner': 'Owner',
    'c.sla': 'SLA',
    'c.subject': 'Subject (personal data removed)',
    'c.count': '{shown} of {total} cases',
    'c.countApprox': '{shown} of about {total} cases',
    'c.breached': 'Breached',
    'c.ok': 'On time',
    'c.open': 'Open case {id}',
    more: 'Load more',
    'd.title': 'Case details',
    'd.timeline': 'Timeline (no personal data)',
    'd.case': 'Case id',
    'd.status': 'Status',
    'd.category': 'Category',
    'd.area': 'Area (province/amphoe/tambon)',
    'd.owner': 'Owner',
    'd.agencies': 'Agencies on the case',
    'd.channels': 'Channels',
    'd.origin': 'Origin system',
    'd.reported': 'Reported',
    'd.accepted': 'Accepted',
    'd.resolved': 'Resolved',
    'd.acceptDue': 'Accept by',
    'd.resolveDue': 'Resolve by',
    'd.sla': 'SLA',
    'd.merged': 'Merged into',
    'd.reopen': 'Times reopened',
    'd.satisfaction': 'Satisfaction',
    'd.subject': 'Subject',
    'd.description': 'Description',
    'd.location': 'Location (rounded)',
    close: 'Close',
    none: 'Nothing matches these filters',
    unknown: 'Unknown',
    loading: 'Loading…',
    legend: 'Legend',
    'legend.zero': 'No cases',
    'map.title': '{name}: {count} cases',
    'bucket.<1d': 'under 1 day',
    'bucket.1-7d': '1–7 days',
    'bucket.7-30d': '7–30 days',
    'bucket.30-90d': '30–90 days',
    'bucket.>90d': 'over 90 days',
    'err.401': 'The hub refused the signed token (401): {detail}. Check that this key is enrolled and not revoked.',
    'err.403': 'This agency may not see this (403): {detail}. The oversight or admin role is needed.',
    'err.other': 'Request failed ({status}): {detail}',
    'err.network': 'Cannot reach the hub: {detail}',
    'foot.privacy': 'Text shown here has phone numbers, e-mail addresses and national ID numbers removed; reporters’ details never appear on this dashboard.',
    lang: 'ภาษาไทย',
  },
};

const EVENT_TYPES = {
  'complaint.submit': { th: 'รับเรื่องร้องเรียน', en: 'Complaint received' },
  'case.accept': { th: 'รับเรื่อง', en: 'Accepted' },
  'case.decline': { th: 'ปฏิเสธ (ส่งต่อใหม่)', en: 'Declined' },
  'case.forward': { th: 'ส่งต่อ', en: 'Forwarded' },
  'case.assist': { th: 'ขอความร่วมมือ', en: 'Assistance asked' },
  'case.status': { th: 'แจ้งความคืบหน้า', en: 'Progress update' },
  'case.resolve': { th: 'ดำเนินการเสร็จสิ้น', en: 'Resolved' },
  'case.reopen': { th: 'เปิดเรื่องใหม่', en: 'Reopened' },
  'case.merge': { th: 'รวมเรื่อง', en: 'Merged' },
  'case.unmerge': { th: 'แยกเรื่อง', en: 'Unmerged' },
  'case.escalate': { th: 'ยกระดับ (เกินกำหนด SLA)', en: 'Escalated (SLA breach)' },
  'hub.route': { th: 'ฮับระบุหน่วยงานรับผิดชอบ', en: 'Routed by the hub' },
  'hub.forward': { th: 'ฮับเสนอเรื่องให้หน่วยงาน', en: 'Offered to an agency by the hub' },
  'hub.expire': { th: 'หมดเวลารับเรื่อง', en: 'Offer expired' },
  'hub.reject': { th: 'ฮับปฏิเสธเรื่อง (ไม่เกี่ยวข้อง)', en: 'Rejected by the hub' },
  'hub.close': { th: 'ปิดเรื่อง (พ้นระยะยืนยันผล)', en: 'Closed after the confirmation window' },
};

let lang = 'th';
let vocab = { categories: {}, statuses: {}, channels: {}, provinces: {} };

export function setLang(value) {
  lang = value === 'en' ? 'en' : 'th';
  document.documentElement.lang = lang;
}

export function getLang() {
  return lang;
}

export function setVocab(value) {
  vocab = { ...vocab, ...value };
}

export function t(key, params = {}) {
  const text = STRINGS[lang][key] ?? STRINGS.th[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in params ? String(params[name]) : ''));
}

// A vocabulary term in the current language; the code itself if the hub sent a new one.
export function term(kind, code) {
  if (code === null || code === undefined || code === '') return t('unknown');
  const entry = vocab[kind]?.[code];
  return entry ? entry[lang] || entry.th : String(code);
}

export function eventLabel(type) {
  const entry = EVENT_TYPES[type];
  return entry ? entry[lang] : type;
}

export function applyStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n);
  }
}

const numberFormats = new Map();
export function num(value, options = {}) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  const key = `${lang}|${JSON.stringify(options)}`;
  if (!numberFormats.has(key)) {
    numberFormats.set(key, new Intl.NumberFormat(lang === 'th' ? 'th-TH' : 'en-GB', options));
  }
  return numberFormats.get(key).format(value);
}

export function pct(value) {
  return value === null || value === undefined ? '–' : num(value, { style: 'percent', maximumFractionDigits: 1 });
}

export function hours(value) {
  return num(value, { maximumFractionDigits: 1 });
}

const dateFormats = new Map();
export function when(iso, withTime = true) {
  if (!iso) return '–';
  const key = `${lang}|${withTime}`;
  if (!dateFormats.has(key)) {
    dateFormats.set(
      key,
      new Intl.DateTimeFormat(lang === 'th' ? 'th-TH' : 'en-GB', {
        dateStyle: 'medium',
        ...(withTime ? { timeStyle: 'short' } : {}),
        timeZone: 'Asia/Bangkok',
      }),
    );
  }
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : dateFormats.get(key).format(date);
}

export function bytes(n) {
  if (n < 1024) return `${num(n)} B`;
  if (n < 1024 * 1024) return `${num(n / 1024, { maximumFractionDigits: 1 })} KB`;
  return `${num(n / 1024 / 1024, { maximumFractionDigits: 1 })} MB`;
}
