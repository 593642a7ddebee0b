import { execFileSync } from 'node:child_process';
import { benchKeys, call, startStageflow } from '../bench/procs.ts';
import { linearWorkflow } from '../test/helpers/harness.ts';
const keys = benchKeys(); const prefix = `scratchc${Date.now()}`;
const s = await startStageflow('api', 'redis://127.0.0.1:6379', prefix, keys, {});
await call(`${s.url}/api/workflows/bench-chain`, { method: 'PUT', headers: { authorization: `Bearer ${keys.designer}`, 'content-type': 'application/json' }, body: JSON.stringify(linearWorkflow('bench-chain', 10)) });
console.log(execFileSync('curl', ['-si', '-X', 'POST', '-H', `authorization: Bearer ${keys.client}`, '-H', 'content-type: application/json', '-d', '{"model":{}}', `${s.url}/api/workflows/bench-chain/runs`]).toString());
await s.stop();
execFileSync('bash', ['-c', `redis-cli --scan --pattern '${prefix}*' | xargs -r -n 2000 redis-cli unlink >/dev/null`]);
