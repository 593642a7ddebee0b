import { afterAll, beforeAll, it } from 'vitest';
import { keyOf, startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
const deepObj = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
beforeAll(async () => {
  h = await startHarness({ app: { rateLimitPerMinute: 0 } });
});
afterAll(() => h.close());
const step = (s: string) => `{"stages":[{"id":"a","name":"A","steps":[${s}]}]}`;
function nestedIf(n: number): string {
  let inner = '{"id":"leaf","type":"finish"}';
  for (let i = 0; i < n; i++) inner = `{"id":"i${i}","type":"ifCondition","field":"f","operator":"exists","then":[${inner}]}`;
  return inner;
}
it('probes', async () => {
  const show = (label: string, r: any) => console.log(label, r.status, r.headers.get('content-type'), JSON.stringify(r.body).slice(0, 300));
  for (const n of [65, 100, 1000, 3000, 10000]) {
    show(`put deep value ${n}`, await h.api('PUT', `/api/workflows/deepv${n}`, step(`{"id":"x","type":"updateModelField","field":"f","value":${deep(n)}}`)));
    show(`validate deep value ${n}`, await h.api('POST', `/api/workflows/validate`, step(`{"id":"x","type":"updateModelField","field":"f","value":${deep(n)}}`)));
  }
  for (const n of [10, 100, 500, 2000]) {
    show(`put nested if ${n}`, await h.api('PUT', `/api/workflows/nif${n}`, step(nestedIf(n))));
    show(`validate nested if ${n}`, await h.api('POST', `/api/workflows/validate`, step(nestedIf(n))));
  }
  show('proto value', await h.api('PUT', '/api/workflows/pv', step('{"id":"x","type":"updateModelField","field":"f","value":{"__proto__":{"polluted":true}}}')));
  show('constructor value', await h.api('PUT', '/api/workflows/pv2', step('{"id":"x","type":"updateModelField","field":"f","value":{"constructor":{"prototype":{"polluted":true}}}}')));
  show('proto field', await h.api('PUT', '/api/workflows/pf', step('{"id":"x","type":"updateModelField","field":"__proto__.polluted","value":1}')));
  show('ctor field', await h.api('PUT', '/api/workflows/pf2', step('{"id":"x","type":"updateModelField","field":"constructor.prototype.polluted","value":1}')));
  show('if value proto', await h.api('PUT', '/api/workflows/pf3', step('{"id":"x","type":"ifCondition","field":"a","operator":"equal","value":{"__proto__":{"x":1}},"then":[]}')));
  show('switch case proto', await h.api('PUT', '/api/workflows/pf4', step('{"id":"x","type":"switchCase","sourceField":"a","cases":[{"value":{"__proto__":1},"steps":[]}]}')));
  show('top proto', await h.api('PUT', '/api/workflows/pf5', '{"__proto__":{"x":1},"stages":[{"id":"a","name":"A","steps":[]}]}'));
  show('idem latin1', await h.api('POST', '/api/workflows/pf5/runs', {}, { 'idempotency-key': 'caf\u00e9' }));
  show('wait 1e308', await h.api('POST', '/api/workflows/nope/runs?wait=1e308', {}));
  show('retry __proto__ body', await h.api('POST', '/api/runs/0190c4a2-0000-7000-8000-000000000000/retry', '{"__proto__":{"x":1}}'));
  show('template proto', await h.api('PUT', '/api/templates/tp', '{"body":"hi","__proto__":{"x":1}}'));
  show('template constructor', await h.api('PUT', '/api/templates/tp', '{"body":"hi","constructor":{"x":1}}'));
  show('confirm proto', await h.api('POST', '/api/runs/0190c4a2-0000-7000-8000-000000000000/confirm', '{"option":"a","__proto__":{"x":1}}'));
  show('start unknown query', await h.api('POST', '/api/workflows/nope/runs?bogus=1', {}));
  show('mark read', await h.api('POST', '/api/me/notifications/abc/read', '{'));
  show('mark read ../', await h.api('POST', '/api/me/notifications/..%2F..%2Fx/read', {}));
  show('login json', await h.api('POST', '/admin/login', { key: 'test-admin-key-0123456789' }));
  show('login bad', await h.api('POST', '/admin/login', 'key=nope', { 'content-type': 'application/x-www-form-urlencoded' }));
  show('login arr', await h.api('POST', '/admin/login', 'key[]=a&key[]=b', { 'content-type': 'application/x-www-form-urlencoded' }));
  show('login badenc', await h.api('POST', '/admin/login', 'key=%E0%A4%A', { 'content-type': 'application/x-www-form-urlencoded' }));
  show('confirm badenc', await h.api('POST', '/confirm/xx', 'comment=%E0%A4%A', { 'content-type': 'application/x-www-form-urlencoded' }));
  show('confirm html', await h.api('POST', '/confirm/' + 'a'.repeat(20) + '.' + 'b'.repeat(43), 'comment=x', { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' }));
  show('unicode name', await h.api('PUT', '/api/workflows/%F0%9F%98%80', step('')));
  show('bad pct', await h.api('PUT', '/api/workflows/%E0%A4%A', step('')));
  show('bad pct run', await h.api('POST', '/api/runs/%E0%A4%A/cancel'));
}, 120000);
