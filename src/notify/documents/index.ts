/**
 * The document render types by name; see each module for its template syntax. The renderers
 * (docxtemplater, xlsx-template, pdfmake) are loaded on first use, so a process that never
 * touches a document template does not pay for them at start.
 */
import type { DocumentKind, DocumentType } from './types.ts';

export { DOCUMENT_TYPES, DocumentTemplateError, type DocumentKind, type DocumentType, type TemplateIssue } from './types.ts';

/** What is known of each type without loading its renderer. */
export const DOCUMENT_INFO: Record<DocumentType, { contentType: string; extension: string }> = {
  docx: { contentType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', extension: 'docx' },
  xlsx: { contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', extension: 'xlsx' },
  pdf: { contentType: 'application/pdf', extension: 'pdf' },
};

const loaders: Record<DocumentType, () => Promise<DocumentKind>> = {
  docx: () => import('./docx.ts').then((m) => m.docx),
  xlsx: () => import('./xlsx.ts').then((m) => m.xlsx),
  pdf: () => import('./pdf.ts').then((m) => m.pdf),
};
const loaded = new Map<DocumentType, Promise<DocumentKind>>();

export function documentKind(type: DocumentType): Promise<DocumentKind> {
  let kind = loaded.get(type);
  if (!kind) {
    kind = loaders[type]();
    loaded.set(type, kind);
  }
  return kind;
}

export function isDocumentType(t: string): t is DocumentType {
  return t === 'docx' || t === 'xlsx' || t === 'pdf';
}
