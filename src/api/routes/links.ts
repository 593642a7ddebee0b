/**
 * Signed answer links from confirmation messages: GET shows what the link will do (mail scanners
 * prefetch links, so GET never answers), POST answers once as the principal the link names.
 */
import express from 'express';
import { z } from 'zod';
import type { LinkService } from '../ports.ts';
import { EngineError } from '../../engine/errors.ts';
import type { Closure } from '../../engine/link-status.ts';
import { ConfirmResult } from '../../engine/run-view.ts';
import { text } from '../responses.ts';
import { Routes } from '../route.ts';
import { LinkToken } from '../schemas.ts';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)}</title></head>` +
  `<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem"><h1>${esc(title)}</h1>${body}</body></html>`;

/** How the confirmation closed, for the link's page; vague for a principal who may not read the run. */
function closureText(closure: Closure | undefined): string {
  switch (closure?.kind) {
    case 'decided':
      return closure.option
        ? `it was decided with "${closure.option}" by ${closure.by} at ${closure.at}`
        : `it was closed by ${closure.by} at ${closure.at}`;
    case 'timedOut':
      return `it timed out at ${closure.at}${closure.option ? ` and was decided with "${closure.option}"` : ' and the run failed'}`;
    case 'cancelled':
      return `the run was cancelled${closure.by ? ` by ${closure.by}` : ''} at ${closure.at}`;
    case 'movedOn':
      return `the run has moved on (it is ${closure.status} now)`;
    default:
      return 'it is no longer waiting for an answer';
  }
}

const refused = (res: express.Response, err: EngineError) =>
  res
    .status(err.kind === 'conflict' ? 409 : 403)
    .type('html')
    .send(page('This link cannot be used', `<p>${esc(err.message)}</p>`));

const ByToken = z.object({ token: LinkToken });
const tags = ['links'];

export const linkRoutes = new Routes<LinkService>('/confirm')
  .use(() => express.urlencoded({ extended: false, limit: '16kb' }))
  .add(
    {
      method: 'get',
      path: '/confirm/{token}',
      summary: 'Show what a signed answer link will do (never answers)',
      tags,
      access: 'open',
      params: ByToken,
      responses: {
        200: text('a page with the answer form'),
        403: text('the link is not valid or expired'),
        409: text('the link is already used, or its request is closed (the page says how, without a form)'),
      },
      problems: [400],
    },
    (engine) =>
      async ({ params: { token } }, _req, res) => {
        let status: Awaited<ReturnType<typeof engine.linkStatus>>;
        try {
          status = await engine.linkStatus(token);
        } catch (err) {
          // A refused link is a page for the person who clicked it, not a problem document.
          if (err instanceof EngineError) return void refused(res, err);
          throw err;
        }
        const c = status.claims;
        if (!status.open) {
          res
            .status(409)
            .type('html')
            .send(
              page(
                'This request is closed',
                `<p>This request is closed: ${esc(closureText(status.closure))}. There is nothing left to answer.</p>`,
              ),
            );
          return;
        }
        res
          .type('html')
          .send(
            page(
              `Answer "${c.option}"`,
              `<p>Run <code>${esc(c.runId)}</code>, step <code>${esc(c.stepId)}</code>, as <strong>${esc(c.principalId)}</strong>.</p>` +
                `<form method="post"><label>Comment (optional)<br><textarea name="comment" rows="3" cols="40"></textarea></label><p><button type="submit">Confirm "${esc(c.option)}"</button></p></form>`,
            ),
          );
      },
  )
  .add(
    {
      method: 'post',
      path: '/confirm/{token}',
      summary: 'Answer once through a signed link, as the principal it names',
      tags,
      access: 'open',
      params: ByToken,
      // A form post; the comment is optional and cut to 4000 characters rather than refused.
      bodyDoc: {
        required: false,
        content: { 'application/x-www-form-urlencoded': z.object({ comment: z.string().max(4000).optional() }) },
      },
      responses: {
        200: {
          description: 'answered (JSON when asked for, else a page)',
          content: { 'application/json': ConfirmResult, 'text/html': { type: 'string' } },
        },
      },
      problems: [400, 403, 404, 409],
    },
    (engine) =>
      async ({ params: { token } }, req, res) => {
        const comment =
          typeof req.body?.comment === 'string' && req.body.comment.trim() ? String(req.body.comment).slice(0, 4000) : undefined;
        try {
          const { run, resolved } = await engine.confirmByLink(token, comment);
          if (req.accepts(['json', 'html']) === 'json') {
            res.json({ resolved, run });
            return;
          }
          res.type('html').send(page('Thank you', `<p>Your answer was recorded${resolved ? ' and the run moves on' : ''}.</p>`));
        } catch (err) {
          if (err instanceof EngineError && req.accepts(['json', 'html']) === 'html') return void refused(res, err);
          throw err;
        }
      },
  );
