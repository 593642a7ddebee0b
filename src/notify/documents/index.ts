/** The document render types by name; see each module for its template syntax. */
import { docx } from './docx.ts';
import { pdf } from './pdf.ts';
import type { DocumentKind, DocumentType } from './types.ts';
import { xlsx } from './xlsx.ts';

export const documentKinds: Record<DocumentType, DocumentKind> = { docx, xlsx, pdf };
export { DOCUMENT_TYPES, DocumentTemplateError, type DocumentKind, type DocumentType, type TemplateIssue } from './types.ts';

export function isDocumentType(t: string): t is DocumentType {
  return t === 'docx' || t === 'xlsx' || t === 'pdf';
}
