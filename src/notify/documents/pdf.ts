/**
 * pdf templates are pdfmake document definitions (JSON) filled from the model: every string may
 * hold Liquid placeholders (`{{ customer.name }}`, `{{ orderedAt | date: "%Y-%m-%d" }}`), and an
 * array element `{"$repeat": "items", "as": "item", "each": <node>}` becomes one copy of `node`
 * per item of `items` (a table row when `node` is an array), with `item` bound in its strings.
 * Only the PDF standard fonts are available (Helvetica by default, Times, Courier); images must
 * be data: URLs; no file or network access happens while rendering.
 */
import { Liquid, type Template } from 'liquidjs';
import pdfmake from 'pdfmake';
import { getPath, isSafePath } from '../../definition/paths.ts';
import { DocumentTemplateError, type DocumentKind, type TemplateIssue } from './types.ts';

const liquid = new Liquid({
  templates: {},
  strictFilters: true,
  ownPropertyOnly: true,
  parseLimit: 100_000,
  renderLimit: 2_000,
  memoryLimit: 20_000_000,
});

const STANDARD = ['Helvetica', 'Times', 'Courier'] as const;
const FONT_FILES = new Set<string>();
const fonts = Object.fromEntries(
  STANDARD.map((f) => {
    const variants =
      f === 'Times'
        ? { normal: 'Times-Roman', bold: 'Times-Bold', italics: 'Times-Italic', bolditalics: 'Times-BoldItalic' }
        : { normal: f, bold: `${f}-Bold`, italics: `${f}-Oblique`, bolditalics: `${f}-BoldOblique` };
    for (const v of Object.values(variants)) FONT_FILES.add(v);
    return [f, variants];
  }),
);
pdfmake.setFonts(fonts);
pdfmake.setUrlAccessPolicy(() => false);
// The standard fonts are built into pdfkit under these names; nothing else is read from disk.
(pdfmake as unknown as { setLocalAccessPolicy(cb: (p: string) => boolean): void }).setLocalAccessPolicy((p) => FONT_FILES.has(p));

/** Keys a template may not use: they load files, fonts or URLs, or embed attachments. */
const FORBIDDEN_KEYS = new Set(['fonts', 'files', 'attachments', 'attachment', 'svg', 'patterns']);

type Json = unknown;

function parseDefinition(template: Buffer): Record<string, Json> {
  let def: unknown;
  try {
    def = JSON.parse(template.toString('utf8'));
  } catch (err) {
    throw new DocumentTemplateError([{ path: '$.content', message: `the pdf template is not JSON: ${(err as Error).message}` }]);
  }
  if (!def || typeof def !== 'object' || Array.isArray(def) || !('content' in def)) {
    throw new DocumentTemplateError([
      { path: '$.content', message: 'the pdf template must be a pdfmake document definition: an object with "content"' },
    ]);
  }
  return def as Record<string, Json>;
}

interface Walk {
  issues: TemplateIssue[];
  tags: Set<string>;
  /** Loop variable → the list path it iterates. */
  aliases: Map<string, string>;
}

function inspectNode(node: Json, where: string, w: Walk): void {
  if (typeof node === 'string') {
    if (!node.includes('{')) return;
    let parsed: Template[];
    try {
      parsed = liquid.parse(node);
    } catch (err) {
      w.issues.push({ path: '$.content', message: `placeholder at ${where} ("${node.slice(0, 60)}"): ${(err as Error).message}` });
      return;
    }
    for (const v of liquid.globalFullVariablesSync(parsed)) {
      const [head, ...rest] = v.split('.');
      const list = w.aliases.get(head!);
      w.tags.add(list ? [list, ...rest].join('.') : v);
    }
    return;
  }
  if (Array.isArray(node)) {
    for (const [i, n] of node.entries()) inspectNode(n, `${where}[${i}]`, w);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const obj = node as Record<string, Json>;
  if ('$repeat' in obj) {
    const list = obj.$repeat;
    const as = obj.as ?? 'item';
    if (typeof list !== 'string' || !isSafePath(list))
      w.issues.push({ path: '$.content', message: `$repeat at ${where} must name a model field path` });
    else if (typeof as !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(as))
      w.issues.push({ path: '$.content', message: `"as" at ${where} must be a variable name` });
    else if (!('each' in obj)) w.issues.push({ path: '$.content', message: `$repeat "${list}" at ${where} has no "each"` });
    else {
      w.tags.add(list);
      const aliases = new Map(w.aliases).set(as, list);
      inspectNode(obj.each, `${where}.each`, { ...w, aliases });
    }
    return;
  }
  for (const [k, v] of Object.entries(obj)) {
    if (FORBIDDEN_KEYS.has(k))
      w.issues.push({
        path: '$.content',
        message: `"${k}" at ${where} is not allowed in a pdf template (it loads files or embeds content)`,
      });
    else if ((k === 'image' || k === 'images') && !onlyDataUrls(v))
      w.issues.push({ path: '$.content', message: `images at ${where}.${k} must be data: URLs` });
    else inspectNode(v, `${where}.${k}`, w);
  }
}

function onlyDataUrls(v: Json): boolean {
  if (typeof v === 'string') return v.startsWith('data:image/');
  if (v && typeof v === 'object') return Object.values(v).every(onlyDataUrls);
  return false;
}

function fill(node: Json, scope: Record<string, unknown>): Json {
  if (typeof node === 'string') return node.includes('{') ? liquid.parseAndRenderSync(node, scope) : node;
  if (Array.isArray(node)) {
    return node.flatMap((n) => {
      if (n && typeof n === 'object' && !Array.isArray(n) && '$repeat' in n) {
        const r = n as { $repeat: string; as?: string; each: Json };
        const items = getPath(scope, r.$repeat);
        if (!Array.isArray(items)) return [];
        return items.map((item) => fill(r.each, { ...scope, [r.as ?? 'item']: item }));
      }
      return [fill(n, scope)];
    });
  }
  if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, fill(v, scope)]));
  return node;
}

export const pdf: DocumentKind = {
  contentType: 'application/pdf',
  extension: 'pdf',
  inspect(template) {
    const w: Walk = { issues: [], tags: new Set(), aliases: new Map() };
    inspectNode(parseDefinition(template), '$', w);
    if (w.issues.length) throw new DocumentTemplateError(w.issues);
    return [...w.tags];
  },
  async render(template, model) {
    this.inspect(template);
    const def = fill(parseDefinition(template), model) as Record<string, unknown>;
    const defaultStyle = { font: 'Helvetica', ...(def.defaultStyle as object | undefined) };
    const doc = pdfmake.createPdf({ ...def, defaultStyle } as never);
    return Buffer.from(await (doc as unknown as { getBuffer(): Promise<Uint8Array> }).getBuffer());
  },
};
