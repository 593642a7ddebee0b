// /templates: the template catalog for designers. Liquid text/html templates are written and
// previewed here; docx/xlsx/pdf templates are uploaded (multipart), their tags shown, and a
// preview rendered against a sample model is offered as a download.
import { api, ApiError, enc, get, getKey } from './api.js';
import { h, message, pretty, replace, formatTime } from './dom.js';

const DOCUMENT_TYPES = ['docx', 'xlsx', 'pdf'];
const SAMPLE = {
  customer: { name: 'Ada Lovelace' },
  total: 1234.5,
  orderedAt: '2026-03-14',
  items: [{ name: 'Widget', qty: 2, price: 9.5 }],
};

/** A request whose body or answer is not JSON (uploads, document previews); errors as ApiError. */
async function raw(method, path, { body, json } = {}) {
  const headers = { authorization: `Bearer ${getKey()}` };
  if (json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: json !== undefined ? JSON.stringify(json) : body, cache: 'no-store' });
  if (!res.ok) {
    let problem;
    try {
      problem = await res.json();
    } catch {
      problem = undefined;
    }
    throw new ApiError(res.status, problem);
  }
  return res;
}

const fileNameOf = (res, fallback) => /filename="?([^";]+)"?/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallback;

function downloadLink(blob, fileName) {
  const a = h('a', { href: URL.createObjectURL(blob), download: fileName, class: 'button' }, `Download ${fileName}`);
  return a;
}

function field(id, label, control, hint) {
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), control, hint ? h('p', { class: 'hint' }, hint) : null);
}

function errorOf(err) {
  return message('error', err instanceof ApiError ? err.describe() : String(err?.message ?? err));
}

export async function mount(main, { principal }) {
  const listBox = h('div', { class: 'table-wrap' });
  const status = h('div', { aria: { live: 'polite' } });
  const tagsBox = h('div', { id: 'template-tags' });
  const previewBox = h('div', { id: 'preview-result', aria: { live: 'polite' } });

  // ---- text / html ----
  const tName = h('input', { type: 'text', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9_\\-]{0,63}', spellcheck: 'false' });
  const tType = h('select', {}, h('option', { value: 'text' }, 'text'), h('option', { value: 'html' }, 'html'));
  const tSubject = h('input', { type: 'text' });
  const tBody = h('textarea', { rows: 6, required: true, spellcheck: 'false' });
  const textForm = h(
    'form',
    {
      class: 'card-panel',
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const { body } = await api('PUT', `/api/templates/${enc(tName.value.trim())}`, {
            renderType: tType.value,
            body: tBody.value,
            ...(tSubject.value.trim() ? { subject: tSubject.value } : {}),
          });
          replace(status, message('ok', `Saved ${body.name}.`));
          select(body);
          await refresh();
        } catch (err) {
          replace(status, errorOf(err));
        }
      },
    },
    h('h2', {}, 'Text or HTML template'),
    field('tpl-name', 'Template name', tName),
    field('tpl-type', 'Render type', tType),
    field('tpl-subject', 'Subject', tSubject, 'Liquid: {{ customer.name }}'),
    field('tpl-body', 'Body', tBody, 'Liquid placeholders, filters and tags ({% for %}, {% if %}); html escapes every value.'),
    h('div', { class: 'button-row' }, h('button', { type: 'submit', class: 'primary' }, 'Save template')),
  );

  // ---- document upload ----
  const dName = h('input', { type: 'text', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9_\\-]{0,63}', spellcheck: 'false' });
  const dType = h('select', {}, ...DOCUMENT_TYPES.map((t) => h('option', { value: t }, t)));
  const dFile = h('input', { type: 'file', required: true, accept: '.docx,.xlsx,.json' });
  const dFileName = h('input', { type: 'text' });
  const dSubject = h('input', { type: 'text' });
  const dBody = h('textarea', { rows: 3 });
  const uploadForm = h(
    'form',
    {
      class: 'card-panel',
      onsubmit: async (e) => {
        e.preventDefault();
        const file = dFile.files?.[0];
        if (!file) return;
        const meta = { renderType: dType.value };
        if (dFileName.value.trim()) meta.fileName = dFileName.value.trim();
        if (dSubject.value.trim()) meta.subject = dSubject.value;
        if (dBody.value.trim()) meta.body = dBody.value;
        const form = new FormData();
        form.append('meta', JSON.stringify(meta));
        form.append('template', file, file.name);
        try {
          const saved = await (await raw('PUT', `/api/templates/${enc(dName.value.trim())}`, { body: form })).json();
          replace(status, message('ok', `Uploaded ${saved.name} (${saved.file.size} bytes).`));
          select(saved);
          await refresh();
        } catch (err) {
          replace(status, errorOf(err));
        }
      },
    },
    h('h2', {}, 'Upload a document template'),
    h(
      'p',
      { class: 'hint' },
      'docx: docxtemplater tags ({customer.name}, {#items}…{/items} in a table row, {#vip}…{/vip}); xlsx: ${customer.name}, ${table:items.name}; pdf: a pdfmake document definition (JSON) with {{ placeholders }} and {"$repeat": "items", "each": [...]}.',
    ),
    field('doc-name', 'Document template name', dName),
    field('doc-type', 'Document type', dType),
    field('doc-file', 'Template file', dFile),
    field('doc-filename', 'File name of the rendered document', dFileName, 'Liquid allowed; default <template>.<type>'),
    field('doc-subject', 'E-mail subject', dSubject),
    field('doc-body', 'Message sent with the document', dBody),
    h('div', { class: 'button-row' }, h('button', { type: 'submit', class: 'primary' }, 'Upload template')),
  );

  // ---- preview ----
  const pName = h('select', {});
  const pModel = h('textarea', { rows: 8, spellcheck: 'false', value: pretty(SAMPLE) });
  const previewForm = h(
    'form',
    {
      class: 'card-panel',
      onsubmit: async (e) => {
        e.preventDefault();
        let model;
        try {
          model = JSON.parse(pModel.value || '{}');
        } catch (err) {
          return replace(previewBox, message('error', `The sample model is not JSON: ${err.message}`));
        }
        const name = pName.value;
        if (!name) return;
        try {
          const res = await raw('POST', `/api/templates/${enc(name)}/preview`, { json: { model } });
          if ((res.headers.get('content-type') ?? '').includes('application/json')) {
            const out = await res.json();
            replace(
              previewBox,
              out.subject !== undefined
                ? h('p', {}, h('strong', {}, 'Subject: '), h('span', { id: 'preview-subject' }, out.subject))
                : null,
              h('pre', { id: 'preview-body', class: 'json' }, out.body),
            );
          } else {
            const blob = await res.blob();
            const fileName = fileNameOf(res, name);
            replace(previewBox, message('ok', `Rendered ${fileName} (${blob.size} bytes).`), downloadLink(blob, fileName));
          }
        } catch (err) {
          replace(previewBox, errorOf(err));
        }
      },
    },
    h('h2', {}, 'Preview'),
    field('preview-template', 'Template to preview', pName),
    field('preview-model', 'Sample model (JSON)', pModel),
    h('div', { class: 'button-row' }, h('button', { type: 'submit', class: 'primary' }, 'Render preview')),
    previewBox,
  );

  function select(t) {
    pName.value = t.name;
    const fileLink = t.file
      ? h(
          'a',
          {
            href: '#',
            onclick: async (e) => {
              e.preventDefault();
              try {
                const res = await raw('GET', `/api/templates/${enc(t.name)}/file`);
                const blob = await res.blob();
                e.target.replaceWith(downloadLink(blob, fileNameOf(res, t.name)));
              } catch (err) {
                replace(status, errorOf(err));
              }
            },
          },
          'Get the uploaded file',
        )
      : null;
    replace(
      tagsBox,
      h('h2', {}, `Tags of ${t.name}`),
      t.tags?.length
        ? h(
            'ul',
            { class: 'tag-list' },
            t.tags.map((tag) => h('li', {}, h('code', {}, tag))),
          )
        : h('p', { class: 'muted' }, 'No tags.'),
      fileLink,
    );
    if (!DOCUMENT_TYPES.includes(t.renderType)) {
      get(`/api/templates/${enc(t.name)}`)
        .then((full) => {
          tName.value = full.name;
          tType.value = full.renderType;
          tSubject.value = full.subject ?? '';
          tBody.value = full.body ?? '';
        })
        .catch(() => {});
    }
  }

  async function refresh() {
    const { items } = await get('/api/templates');
    const current = pName.value;
    replace(pName, ...items.map((t) => h('option', { value: t.name }, `${t.name} (${t.renderType})`)));
    if (items.some((t) => t.name === current)) pName.value = current;
    replace(
      listBox,
      items.length === 0
        ? h('p', { class: 'muted' }, 'No templates yet.')
        : h(
            'table',
            { class: 'list' },
            h('thead', {}, h('tr', {}, h('th', {}, 'Name'), h('th', {}, 'Type'), h('th', {}, 'Tags'), h('th', {}, 'Updated'))),
            h(
              'tbody',
              {},
              items.map((t) =>
                h(
                  'tr',
                  {},
                  h('td', {}, h('button', { type: 'button', class: 'link-button', onclick: () => select(t) }, t.name)),
                  h('td', {}, t.renderType),
                  h('td', {}, (t.tags ?? []).join(', ')),
                  h('td', {}, formatTime(t.updatedAt)),
                ),
              ),
            ),
          ),
    );
  }

  replace(
    main,
    h('div', { class: 'page-head' }, h('h1', {}, 'Templates')),
    principal.designer === false
      ? message('info', 'You can read and preview templates here; saving them needs the designer or admin role.')
      : null,
    status,
    listBox,
    tagsBox,
    h('div', { class: 'template-grid' }, textForm, uploadForm, previewForm),
  );
  await refresh();
}
