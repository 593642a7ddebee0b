/** /api/operations: the progress of a bulk operation (POST /api/runs/bulk). */
import { Router } from 'express';
import type { RunService } from '../ports.ts';
import { EngineError } from '../../engine/errors.ts';
import { principalOf } from '../auth.ts';
import { parseInput } from '../problem.ts';
import { OperationId } from '../schemas.ts';

export function operationRoutes(engine: RunService): Router {
  const r = Router();
  r.get('/:id', async (req, res) => {
    const id = parseInput(OperationId, req.params.id, 'path.id');
    const caller = principalOf(res);
    const op = await engine.getOperation(id);
    // An operation is its caller's (and admins'): others are told it does not exist.
    if (op.by !== caller.id && !caller.roles.includes('admin')) throw new EngineError('not_found', `no operation ${id}`);
    res.json(op);
  });
  return r;
}
