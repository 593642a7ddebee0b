/**
 * xlsx templates with xlsx-template: `${customer.name}` in a cell is replaced by the value (a
 * number stays a number), `${table:items.name}` in a row repeats the row once per item of
 * `items`. Model strings that are ISO dates become real spreadsheet dates (the cell's own number
 * format shows them). Image placeholders are refused: they read files named by the model.
 */
import XlsxTemplate from 'xlsx-template';
import { DocumentTemplateError, type DocumentKind, type TemplateIssue } from './types.ts';

interface Placeholder {
  placeholder: string;
  type: string;
  name: string;
  key?: string;
  subType?: string;
}

interface Workbook {
  sharedStrings: string[];
  sheets: unknown[];
  extractPlaceholders(s: string): Placeholder[];
  substitute(sheet: number, values: object): void;
  generate(opts: { type: 'nodebuffer' }): Buffer;
}

const ALLOWED_TYPES = new Set(['normal', 'table']);
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;

function open(template: Buffer): Workbook {
  try {
    return new XlsxTemplate(template) as unknown as Workbook;
  } catch (err) {
    throw new DocumentTemplateError([{ path: '$.content', message: `not an xlsx file: ${(err as Error).message}` }]);
  }
}

function tagsOf(wb: Workbook): string[] {
  const issues: TemplateIssue[] = [];
  const tags = new Set<string>();
  for (const text of wb.sharedStrings) {
    if (typeof text !== 'string' || !text.includes('${')) continue;
    for (const p of wb.extractPlaceholders(text)) {
      if (!ALLOWED_TYPES.has(p.type) || p.subType !== undefined) {
        issues.push({
          path: '$.content',
          message: `tag "${p.placeholder}" in the cell text "${text}": only \${field} and \${table:list.field} tags are supported`,
        });
        continue;
      }
      tags.add(p.key === undefined ? p.name : `${p.name}.${p.key}`);
    }
    // What the library's pattern did not match is an unbalanced or empty tag.
    const rest = text.replace(/\$\{(?:[^{}:]+?:)?[^{}:]+?(?:\.[^{}:]+?)?(?::[^{}:]+?)??\}/g, '');
    const at = rest.indexOf('${');
    if (at >= 0)
      issues.push({
        path: '$.content',
        message: `tag "${rest.slice(at, at + 40)}" in the cell text "${text}" is not closed or empty (write \${field})`,
      });
  }
  if (issues.length) throw new DocumentTemplateError(issues);
  return [...tags];
}

function withDates(value: unknown): unknown {
  if (typeof value === 'string' && ISO_DATE.test(value)) {
    const d = new Date(value);
    return Number.isNaN(d.getTime()) ? value : d;
  }
  if (Array.isArray(value)) return value.map(withDates);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withDates(v)]));
  return value;
}

export const xlsx: DocumentKind = {
  contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  extension: 'xlsx',
  inspect(template) {
    return tagsOf(open(template));
  },
  async render(template, model) {
    const wb = open(template);
    tagsOf(wb);
    const values = withDates(model) as object;
    for (let sheet = 1; sheet <= wb.sheets.length; sheet++) wb.substitute(sheet, values);
    return wb.generate({ type: 'nodebuffer' });
  },
};
