/**
 * A dry run of a workflow version: every step's real handler runs against the model, with
 * services that record instead of act (no notification is sent, no dataflow called, no entry
 * saved, no run created) and routing by the same decide() the engine uses. Confirmations take
 * the stubbed option (else the first), dataflows the stubbed result (else none). No I/O beyond
 * the read-only services handed in (the directory, template rendering), so it is unit-tested
 * without Redis.
 */
import type { Logger } from 'pino';
import type { Plan } from '../definition/plan.ts';
import { setPath } from '../definition/paths.ts';
import { getStepType } from '../steps/registry.ts';
import type { Directory, OutgoingMessage, StepServices, Templates } from '../steps/services.ts';
import type { Model, StepResult } from '../steps/types.ts';
import { decide } from './transition.ts';
import type { RunError } from './types.ts';

export interface SimulationOptions {
  model: Model;
  /** stepId → the option a confirmation takes, or the result a dataflow returns. */
  stubs?: Record<string, unknown>;
  maxTransitions: number;
  directory: Directory;
  /** Renders stored templates (reads only); a message whose template fails is recorded by name. */
  templates: Templates;
  publicUrl: (path: string) => string;
  log: Logger;
}

export interface SimulationEffect {
  stepId: string;
  /** notification, dataflow, entrySave, or the kind of the wait a simulation stood in for (WaitKind.simulate). */
  kind: 'notification' | 'dataflow' | 'entrySave' | (string & {});
  detail: Record<string, unknown>;
}

export interface SimulationResult {
  status: 'completed' | 'failed' | 'draft';
  outcome?: string;
  path: Array<{ stageId: string; stepId: string; type: string; modelAfter: Model }>;
  model: Model;
  effects: SimulationEffect[];
  /** What the simulation assumed (defaults taken for missing stubs, templates it could not render). */
  notes: string[];
  error?: RunError;
}

export async function simulate(plan: Plan, o: SimulationOptions): Promise<SimulationResult> {
  const stubs = o.stubs ?? {};
  const effects: SimulationEffect[] = [];
  const notes: string[] = [];
  const path: SimulationResult['path'] = [];
  let model: Model = o.model;
  let stepId = plan.start;
  let current = '';
  const services: StepServices = {
    directory: o.directory,
    publicUrl: o.publicUrl,
    links: {
      async forOptions(a) {
        return Object.fromEntries(
          a.options.map((option) => [option, o.publicUrl(`/simulated-link/${a.stepId}/${encodeURIComponent(option)}`)]),
        );
      },
    },
    notifier: {
      async deliver(message: OutgoingMessage) {
        // Confirmation requests are part of the confirmation effect, not notifications of their own.
        if (message.data?.kind !== 'confirmation') effects.push({ stepId: current, kind: 'notification', detail: messageDetail(message) });
        return { delivered: message.recipients.length, alreadySent: 0, unreachable: [] };
      },
    },
    templates: {
      async render(name, renderType, m) {
        try {
          return await o.templates.render(name, renderType, m);
        } catch (err) {
          notes.push(
            `step ${current}: template ${name} could not be rendered (${err instanceof Error ? err.message : String(err)}); recorded by name`,
          );
          return { subject: `(template ${name})`, body: `(template ${name})` };
        }
      },
      // A document is never rendered or stored here (that would be a side effect): text and
      // html render as the step would, documents are recorded by name.
      async prepare(name, renderType, m) {
        const format = renderType === 'html' ? 'html' : 'text';
        if (renderType === undefined || renderType === format) return { ...(await this.render(name, format, m)), format, attachments: [] };
        notes.push(`step ${current}: template ${name} is not rendered in a simulation (documents are recorded by name)`);
        return { subject: `(template ${name})`, body: `(template ${name})`, format: 'text', attachments: [] };
      },
    },
    dataflows: {
      async run(name, input) {
        const stubbed = Object.hasOwn(stubs, current);
        const def = plan.steps[current]?.def as { resultField?: string } | undefined;
        const value = stubbed ? stubs[current] : def?.resultField ? null : {};
        if (!stubbed)
          notes.push(
            `step ${current}: no stub for dataflow ${name}; ${def?.resultField ? `${def.resultField} set to null` : 'nothing merged'}`,
          );
        effects.push({ stepId: current, kind: 'dataflow', detail: { dataflow: name, input, result: value, stubbed } });
        return { kind: 'result', value };
      },
    },
  };

  const end = (status: SimulationResult['status'], extra: Partial<SimulationResult> = {}): SimulationResult => ({
    status,
    path,
    model,
    effects,
    notes,
    ...extra,
  });
  for (let transitions = 0; stepId; transitions++) {
    const step = plan.steps[stepId];
    if (!step) return end('failed', { error: { code: 'BAD_PLAN', message: `plan names unknown step ${stepId}` } });
    if (transitions >= o.maxTransitions) {
      return end('failed', {
        error: {
          code: 'TRANSITION_LIMIT',
          stepId,
          message: `the simulation reached ${o.maxTransitions} transitions (a loop that never ends?)`,
        },
      });
    }
    current = step.id;
    const type = getStepType(step.type);
    if (!type) return end('failed', { error: { code: 'NON_RETRYABLE', stepId, message: `unknown step type ${step.type}` } });
    let result: StepResult;
    try {
      result = await type.execute({
        runId: 'simulation',
        workflow: plan.workflow,
        version: plan.version,
        stepId: step.id,
        seq: transitions,
        attempt: 1,
        effectKey: `simulation/${step.id}/${transitions}`,
        params: type.params.parse(step.def),
        model,
        signal: new AbortController().signal,
        log: o.log,
        services,
      });
    } catch (err) {
      return end('failed', { error: { code: 'STEP_ERROR', stepId, message: err instanceof Error ? err.message : String(err) } });
    }
    for (const w of result.writes ?? []) model = setPath(model, w.path, w.value);
    if (result.saveEntry) effects.push({ stepId, kind: 'entrySave', detail: { model } });
    let outcome = result.outcome;
    if (outcome.kind === 'wait') {
      const wait = type.wait?.kind === outcome.reason ? type.wait : undefined;
      const stood = wait?.simulate?.({ stepId, detail: outcome.detail, stub: stubs[stepId], stubbed: Object.hasOwn(stubs, stepId) });
      if (!stood) {
        return end('failed', {
          error: {
            code: 'NON_RETRYABLE',
            stepId,
            message: `step ${stepId} waits for ${outcome.reason}, which a simulation cannot stand in for`,
          },
        });
      }
      if ('error' in stood) return end('failed', { error: stood.error });
      if (stood.note) notes.push(stood.note);
      effects.push({ stepId, kind: outcome.reason, detail: stood.effect });
      for (const w of stood.writes) model = setPath(model, w.path, w.value);
      outcome = { kind: 'next' };
    }
    path.push({ stageId: step.stageId, stepId, type: step.type, modelAfter: model });
    const d = decide(plan, step, outcome);
    if (d.status === 'running') stepId = d.next;
    else if (d.status === 'completed') return end('completed', d.outcome ? { outcome: d.outcome } : {});
    else if (d.status === 'draft') return end('draft');
    else if (d.status === 'failed') return end('failed', { error: d.error });
    else stepId = null;
  }
  return end('completed');
}

function messageDetail(m: OutgoingMessage): Record<string, unknown> {
  return {
    channel: m.channel,
    recipients: m.recipients.map((r) => r.id),
    ...(m.subject ? { subject: m.subject } : {}),
    body: m.body,
    format: m.format,
  };
}
