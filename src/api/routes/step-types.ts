/**
 * GET /api/step-types: what the builder's toolbox and settings forms are generated from. Each
 * registered step type with its toolbox group, description and the JSON Schema of its parameters
 * (from the same zod schemas the API validates with), plus the schema of the fields every step
 * shares. Nested step lists (if/switch branches) are not expanded: they appear as
 * `{type: "array", "x-steps": true}` so a client draws them as branches, not form fields. A value
 * that accepts any JSON appears as `{"x-any-json": true}`.
 */
import { z } from 'zod';
import { commonStepShape } from '../../definition/common.ts';
import '../../definition/schema.ts';
import { stepTypes } from '../../steps/registry.ts';
import { StepList } from '../../steps/step-list.ts';
import { StepTypeInfo as StepTypeInfoSchema } from '../responses.ts';
import { Routes } from '../route.ts';

type Json = Record<string, unknown>;

/** What GET /api/step-types answers per type: the response schema's own type, so the two cannot drift. */
export type StepTypeInfo = z.infer<typeof StepTypeInfoSchema>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** zod's rendering of z.json(): a union of every JSON type (its array/object parts refer back to it). */
function isAnyJson(s: Json): boolean {
  if (!Array.isArray(s.anyOf)) return false;
  const types = new Set(s.anyOf.map((alt) => (isObject(alt) ? alt.type : undefined)));
  return ['string', 'number', 'boolean', 'null', 'array', 'object'].every((t) => types.has(t)) && types.size === 6;
}

/** Inlines $refs (zod extracts shared and recursive parts into $defs) and applies the markers. */
function inline(node: unknown, defs: Json, seen: readonly string[] = []): unknown {
  if (Array.isArray(node)) return node.map((n) => inline(n, defs, seen));
  if (!isObject(node)) return node;
  if (node['x-steps'] === true) return { type: 'array', 'x-steps': true };
  if (isAnyJson(node)) return { 'x-any-json': true };
  if (typeof node.$ref === 'string') {
    const name = node.$ref.replace(/^#\/\$defs\//, '');
    const { $ref: _ref, ...rest } = node;
    if (seen.includes(name) || !isObject(defs[name])) return { ...rest, 'x-any-json': true };
    return { ...(inline(defs[name], defs, [...seen, name]) as Json), ...(inline(rest, defs, seen) as Json) };
  }
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) if (k !== '$defs' && k !== '$schema') out[k] = inline(v, defs, seen);
  return out;
}

function jsonSchemaOf(schema: z.ZodType): Json {
  const raw = z.toJSONSchema(schema, {
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      if (ctx.zodSchema === StepList) {
        for (const key of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Json)[key];
        Object.assign(ctx.jsonSchema, { type: 'array', 'x-steps': true });
      }
    },
  }) as Json;
  return inline(raw, isObject(raw.$defs) ? raw.$defs : {}) as Json;
}

let cached: StepTypeInfo[] | undefined;

export function describeStepTypes(): StepTypeInfo[] {
  cached ??= Object.values(stepTypes).map((t) => {
    const params = t.params as z.ZodObject;
    const own = new Set(Object.keys(params.shape));
    const common = Object.fromEntries(Object.entries(commonStepShape).filter(([k]) => !own.has(k)));
    return {
      type: t.type,
      group: t.group,
      description: t.description,
      schema: jsonSchemaOf(params),
      common: jsonSchemaOf(z.object(common)),
    };
  });
  return cached;
}

export const stepTypeRoutes = new Routes('/api/step-types').add(
  {
    method: 'get',
    path: '/api/step-types',
    summary: 'Step types with their parameters as JSON Schema',
    tags: ['workflows'],
    responses: { 200: z.array(StepTypeInfoSchema) },
  },
  () => (_input, _req, res) => {
    res.json(describeStepTypes());
  },
);
