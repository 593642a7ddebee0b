/**
 * Holds real responses to the OpenAPI document: the status a route answered must be listed for
 * its operation. The harness runs every api() call of the test suite through it.
 */
import { openApiDocument } from '../../src/api/openapi.ts';

const doc = openApiDocument() as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };

const templates = Object.keys(doc.paths).map((template) => ({
  template,
  re: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\\{[^}]+\\\}|\{[^}]+\}/g, '[^/]+')}$`),
}));

/** The documented operation a request hits, if any (the most specific template wins). */
export function operationOf(method: string, path: string): { template: string; responses: Record<string, unknown> } | undefined {
  const bare = path.split('?')[0]!;
  const hits = templates
    .filter((t) => t.re.test(bare))
    .sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));
  for (const { template } of hits) {
    const op = doc.paths[template]?.[method.toLowerCase()];
    if (op) return { template, responses: op.responses };
  }
  return undefined;
}

/** Why this response breaks the document (undefined: documented, or not a documented route). */
export function undocumented(method: string, path: string, status: number): string | undefined {
  const op = operationOf(method, path);
  if (!op) return undefined;
  if (op.responses[String(status)] || op.responses.default) return undefined;
  return `${method} ${path} answered ${status}, which ${method.toLowerCase()} ${op.template} does not document (it lists ${Object.keys(op.responses).join(', ')})`;
}
