/** /api/templates: register, read and list message templates (designers and admins write). */
import { Router } from 'express';
import { TemplateInput, TemplateName, TemplateSyntaxError, type TemplateStore } from '../../notify/templates.ts';
import { principalOf } from '../auth.ts';
import type { Authz } from '../authz.ts';
import { bodyOf } from '../body.ts';
import { BadRequest, parseOr400, sendProblem } from '../problem.ts';

export function templateRoutes(templates: TemplateStore, authz: Authz): Router {
  const r = Router();

  r.get('/', async (_req, res) => {
    res.json({ items: await templates.list() });
  });

  r.get('/:name', async (req, res) => {
    const name = parseOr400(TemplateName, req.params.name, '$.name', 'the template name in the URL');
    const template = await templates.get(name);
    if (!template) return sendProblem(res, 404, `template ${name} does not exist`);
    res.json(template);
  });

  r.put('/:name', async (req, res) => {
    const name = parseOr400(TemplateName, req.params.name, '$.name', 'the template name in the URL');
    authz.design(principalOf(res), 'templates');
    const input = parseOr400(TemplateInput, bodyOf(req.body));
    let saved;
    try {
      saved = await templates.put(name, input);
    } catch (err) {
      if (err instanceof TemplateSyntaxError) throw new BadRequest('the template does not parse', err.errors);
      throw err;
    }
    res.status(saved.created ? 201 : 200).location(`/api/templates/${name}`).json(saved.template);
  });

  return r;
}
