/**
 * What every document render type (docx, xlsx, pdf) provides: inspecting a template at
 * registration (its tags, or every problem with where it is) and rendering it against a model.
 * Rendering is pure (bytes and model in, bytes out): whatever fails fails the same on a retry.
 */
export type DocumentType = 'docx' | 'xlsx' | 'pdf';
export const DOCUMENT_TYPES: readonly DocumentType[] = ['docx', 'xlsx', 'pdf'];

export interface TemplateIssue {
  /** Where in the registration the problem is ($.content for the file). */
  path: string;
  /** Names the tag and where it is (file part, cell, JSON path, offset). */
  message: string;
}

export class DocumentTemplateError extends Error {
  override name = 'DocumentTemplateError';
  constructor(readonly issues: TemplateIssue[]) {
    super(issues.map((i) => i.message).join('; '));
  }
}

export interface DocumentKind {
  contentType: string;
  extension: string;
  /** The model paths the template's tags read (loop children as `items.name`); throws DocumentTemplateError. */
  inspect(template: Buffer): string[];
  /** Throws DocumentTemplateError (or any error) when the template cannot be rendered with this model. */
  render(template: Buffer, model: Record<string, unknown>): Promise<Buffer>;
}
