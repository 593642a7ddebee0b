/**
 * docx templates with docxtemplater: `{customer.name}`, `{#items}…{/items}` loops (a loop whose
 * tags open and close in one table row repeats the row), `{#vip}…{/vip}` conditions and
 * `{^vip}…{/vip}` inverted ones. A tag is a model path, looked up from the innermost loop item
 * outwards; a tag with a `|` is a Liquid expression with filters (`{orderedAt | date: "%d %b %Y"}`),
 * the same filters text templates have. Missing values render empty.
 */
import Docxtemplater from 'docxtemplater';
import inspectModule from 'docxtemplater/js/inspect-module.js';
import PizZip from 'pizzip';
import { Liquid } from 'liquidjs';
import { getPath, isSafePath } from '../../definition/paths.ts';
import { DocumentTemplateError, type DocumentKind, type TemplateIssue } from './types.ts';

const liquid = new Liquid({
  templates: {},
  strictFilters: true,
  ownPropertyOnly: true,
  parseLimit: 10_000,
  renderLimit: 1_000,
  memoryLimit: 10_000_000,
});

interface XtError {
  properties?: { id?: string; xtag?: string; offset?: number; file?: string; explanation?: string; errors?: XtError[] };
  message?: string;
}

function issuesOf(err: unknown): TemplateIssue[] {
  const e = err as XtError;
  const list = e.properties?.errors ?? [e];
  return list.map((x) => {
    const p = x.properties ?? {};
    const tag = p.xtag !== undefined ? `tag "${p.xtag}"` : 'the template';
    const where = [p.file, p.offset !== undefined ? `offset ${p.offset}` : undefined].filter(Boolean).join(' at ');
    return { path: '$.content', message: `${tag}${where ? ` (${where})` : ''}: ${p.explanation ?? x.message ?? 'does not parse'}` };
  });
}

function open(template: Buffer, modules: unknown[] = []): Docxtemplater {
  let zip: PizZip;
  try {
    zip = new PizZip(template);
  } catch (err) {
    throw new DocumentTemplateError([{ path: '$.content', message: `not a docx file (zip): ${(err as Error).message}` }]);
  }
  if (!zip.file('word/document.xml'))
    throw new DocumentTemplateError([{ path: '$.content', message: 'not a docx file: word/document.xml is missing' }]);
  try {
    return new Docxtemplater(zip, {
      paragraphLoop: true,
      linebreaks: true,
      modules: modules as never[],
      nullGetter: () => '',
      errorLogging: false,
      parser: (tag: string) => ({
        get(scope: unknown, context: { scopeList: unknown[] }) {
          const expr = tag.trim();
          if (expr === '.' || expr === 'this') return scope;
          if (!expr.includes('|')) {
            if (!isSafePath(expr)) return undefined;
            for (let i = context.scopeList.length - 1; i >= 0; i--) {
              const v = getPath(context.scopeList[i], expr);
              if (v !== undefined) return v;
            }
            return undefined;
          }
          // Filters: evaluate in the merged scope (inner loop items shadow outer fields).
          const merged = Object.assign({}, ...context.scopeList.filter((s) => typeof s === 'object' && s !== null && !Array.isArray(s)));
          return liquid.parseAndRenderSync(`{{ ${expr} }}`, merged);
        },
      }),
    });
  } catch (err) {
    throw new DocumentTemplateError(issuesOf(err));
  }
}

/** Filter expressions are Liquid: a broken one is refused at registration, not at the first run. */
function checkExpressions(tags: Record<string, unknown>, issues: TemplateIssue[]): void {
  for (const [k, v] of Object.entries(tags)) {
    if (k.includes('|')) {
      try {
        liquid.parse(`{{ ${k} }}`);
      } catch (err) {
        issues.push({ path: '$.content', message: `tag "${k}" (word/document.xml): ${(err as Error).message}` });
      }
    }
    if (v && typeof v === 'object') checkExpressions(v as Record<string, unknown>, issues);
  }
}

function flatten(tags: Record<string, unknown>, base = ''): string[] {
  return Object.entries(tags).flatMap(([k, v]) => {
    const root = k.split('|')[0]!.trim();
    const path = base ? `${base}.${root}` : root;
    const children = v && typeof v === 'object' ? flatten(v as Record<string, unknown>, path) : [];
    return [path, ...children];
  });
}

export const docx: DocumentKind = {
  contentType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  extension: 'docx',
  inspect(template) {
    // The module's export is a factory (its typings say class).
    const inspector = (inspectModule as unknown as () => { getAllTags(): Record<string, unknown> })();
    open(template, [inspector]);
    const tags = inspector.getAllTags();
    const issues: TemplateIssue[] = [];
    checkExpressions(tags, issues);
    if (issues.length) throw new DocumentTemplateError(issues);
    return [...new Set(flatten(tags))];
  },
  async render(template, model) {
    const doc = open(template);
    try {
      doc.render(model);
    } catch (err) {
      throw new DocumentTemplateError(issuesOf(err));
    }
    return doc.getZip().generate({ type: 'nodebuffer', compression: 'DEFLATE' });
  },
};
