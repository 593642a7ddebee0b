/**
 * Save-time validation (DESIGN §2): the zod schema plus the rules a schema cannot express.
 * Reports every problem it can find in one pass, each with its JSON path.
 */
import { compile } from './compile.ts';
import { checkFlow } from './flow-checks.ts';
import { IDENTIFIER_PATTERN } from './ids.ts';
import { fromZodError, type Issue } from './issues.ts';
import { allLists, allSteps, outline, type StageNode } from './outline.ts';
import { isSafePath } from './paths.ts';
import { WorkflowDefinition } from './schema.ts';

export type { Issue } from './issues.ts';

export interface ValidationResult {
  valid: boolean;
  /** The parsed definition (defaults applied), present when valid. */
  definition?: WorkflowDefinition;
  errors: Issue[];
  warnings: Issue[];
}

/** Lookups of registered resources; a missing one is a warning (it may be registered later). */
export interface ValidateOptions {
  dataflowExists?(name: string): boolean;
  templateExists?(name: string): boolean;
  /** The model paths a registered template's tags read (GET /api/templates/{name} `tags`); undefined when unknown. */
  templateTags?(name: string): readonly string[] | undefined;
  /** Whether a `users`/`routing` entry reaches anyone: 'known', or why not ('no-user', 'no-members'). */
  principalKnown?(ref: string): 'known' | 'no-user' | 'no-members';
}

/** The first segment of every field path the workflow's steps read or write: the model fields it is known to have. */
function knownRoots(stages: readonly StageNode[]): Set<string> {
  const roots = new Set<string>();
  for (const { stepType, params } of allSteps(stages)) {
    if (!stepType || params === undefined) continue;
    for (const path of stepType.fieldPaths?.(params) ?? []) roots.add(path.split('.')[0]!);
  }
  return roots;
}

/**
 * Templates whose tags read model fields nothing else in the workflow mentions: a typo in a tag,
 * or a field the runs must be started with. A warning, as the start model may well carry it.
 */
function checkTemplateFields(stages: readonly StageNode[], options: ValidateOptions, warnings: Issue[]): void {
  if (!options.templateTags) return;
  let roots: Set<string> | undefined;
  for (const step of allSteps(stages)) {
    const { stepType, params } = step;
    if (!stepType || params === undefined) continue;
    for (const ref of stepType.references?.(params) ?? []) {
      if (ref.kind !== 'template') continue;
      const tags = options.templateTags(ref.name);
      if (!tags?.length) continue;
      roots ??= knownRoots(stages);
      const unknown = [...new Set(tags.map((t) => t.split('.')[0]!))].filter((r) => r && !roots!.has(r));
      if (unknown.length === 0) continue;
      warnings.push({
        path: `${step.path}.${ref.path}`,
        message: `template "${ref.name}" reads model field${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')} that no step of this workflow sets or reads; runs must start with ${unknown.length > 1 ? 'them' : 'it'} in the model, or the tag renders empty`,
      });
    }
  }
}

function checkIds(stages: readonly StageNode[], errors: Issue[]): void {
  const stagePaths = new Map<string, string>();
  for (const stage of stages) {
    if (stage.id === undefined) continue;
    const first = stagePaths.get(stage.id);
    if (first) errors.push({ path: `${stage.path}.id`, message: `duplicate stage id "${stage.id}" (first used at ${first})` });
    else stagePaths.set(stage.id, stage.path);
  }
  const stepPaths = new Map<string, string>();
  for (const step of allSteps(stages)) {
    if (step.id === undefined) continue;
    const first = stepPaths.get(step.id);
    if (first) errors.push({ path: `${step.path}.id`, message: `duplicate step id "${step.id}" (first used at ${first})` });
    else stepPaths.set(step.id, step.path);
  }
}

function checkGotos(stages: readonly StageNode[], errors: Issue[]): void {
  const stageIds = stages.flatMap((stage) => (stage.id === undefined ? [] : [stage.id]));
  for (const step of allSteps(stages)) {
    for (const branch of step.branches) {
      // Malformed ids are already schema errors.
      if (typeof branch.goto !== 'string' || !IDENTIFIER_PATTERN.test(branch.goto)) continue;
      if (!stageIds.includes(branch.goto)) {
        errors.push({ path: branch.gotoPath, message: `goto names no stage: "${branch.goto}" (stages: ${stageIds.join(', ')})` });
      }
    }
  }
}

function checkStageEnders(stages: readonly StageNode[], errors: Issue[]): void {
  for (const list of allLists(stages)) {
    const index = list.findIndex((step) => step.stepType?.endsStage);
    const ender = list[index];
    const after = list[index + 1];
    if (!ender || !after) continue;
    errors.push({
      path: after.path,
      message: `steps after the ${ender.stepType?.type} "${ender.id}" can never run: it always leaves its stage (move them into its branches or a later stage)`,
    });
  }
}

function checkStepRules(stages: readonly StageNode[], options: ValidateOptions, errors: Issue[], warnings: Issue[]): void {
  for (const step of allSteps(stages)) {
    const { stepType, params } = step;
    if (!stepType || params === undefined) continue;
    // Step schemas should already reject these; this catches a new step type that forgot to.
    for (const path of stepType.fieldPaths?.(params) ?? []) {
      if (!isSafePath(path)) errors.push({ path: step.path, message: `unsafe field path "${path}"` });
    }
    for (const message of stepType.warnings?.(params) ?? []) warnings.push({ path: step.path, message });
    for (const ref of stepType.references?.(params) ?? []) {
      if (ref.kind === 'principal') {
        const known = options.principalKnown?.(ref.name) ?? 'known';
        if (known === 'no-user')
          warnings.push({
            path: `${step.path}.${ref.path}`,
            message: `no principal "${ref.name}" in the directory: nobody by that id can be reached or answer`,
          });
        if (known === 'no-members')
          warnings.push({
            path: `${step.path}.${ref.path}`,
            message: `role "${ref.name.slice('role:'.length)}" has no members: nobody it names can be reached or answer`,
          });
        continue;
      }
      const exists = ref.kind === 'dataflow' ? options.dataflowExists : options.templateExists;
      if (exists && !exists(ref.name)) {
        warnings.push({
          path: `${step.path}.${ref.path}`,
          message: `${ref.kind} "${ref.name}" is not registered yet; the step fails until it is`,
        });
      }
    }
  }
}

function checkAccess(def: WorkflowDefinition, warnings: Issue[]): void {
  const named = Object.values(def.access ?? {}).some((list) => list.length > 0);
  if (def.restrictAccess && !named) {
    warnings.push({ path: '$.access', message: 'restrictAccess is true but access names nobody: only admins can use this workflow' });
  } else if (!def.restrictAccess && def.access !== undefined) {
    warnings.push({ path: '$.access', message: 'access has no effect unless restrictAccess is true' });
  }
}

export function validateDefinition(input: unknown, options: ValidateOptions = {}): ValidationResult {
  const errors: Issue[] = [];
  const warnings: Issue[] = [];
  const parsed = WorkflowDefinition.safeParse(input);
  if (!parsed.success) errors.push(...fromZodError(parsed.error));

  const stages = outline(input);
  checkIds(stages, errors);
  checkGotos(stages, errors);
  checkStageEnders(stages, errors);
  checkStepRules(stages, options, errors, warnings);
  checkTemplateFields(stages, options, warnings);

  if (!parsed.success) return { valid: false, errors, warnings };
  checkAccess(parsed.data, warnings);
  // The flow can only be analysed once the definition compiles (unique ids, existing stages).
  if (errors.length === 0) {
    const flow = checkFlow(compile(parsed.data, 0), stages);
    errors.push(...flow.errors);
    warnings.push(...flow.warnings);
  }
  return errors.length === 0 ? { valid: true, definition: parsed.data, errors, warnings } : { valid: false, errors, warnings };
}
