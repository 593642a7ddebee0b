import { afterAll, beforeAll, it } from 'vitest';
import { keyOf, startHarness, type Harness } from '../helpers/harness.ts';

let h: Harness;
const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
const deepObj = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
beforeAll(async () => {
  h = await startHarness({ app: { rateLimitPerMinute: 0 } });
  await h.saveWorkflow({ name: 'wf', stages: [{ id: 'a', name: 'A', steps: [{ id: 'route', type: 'switchCase', sourceField: 'mode', cases: [
    { value: 'wait', steps: [{ id: 'decide', type: 'getUserConfirmation', confirmationField: 'd', options: ['ok'], routing: ['role:admin'], timeoutMs: 3600000 }] },
    { value: 'draft', steps: [{ id: 'back', type: 'resetToDraft' }] }] }] }] });
  await h.saveWorkflow({ name: 'rwf', restrictAccess: true, access: { read: ['role:auditor'] }, stages: [{ id: 'a', name: 'A', steps: [{ id: 'x', type: 'updateModelField', field: 'f', value: 1 }] }] });
});
afterAll(() => h.close());

it('probes', async () => {
  const show = (label: string, r: any) => console.log(label, r.status, r.headers.get('content-type'), JSON.stringify(r.body).slice(0, 300));
  show('start text/plain', await h.api('POST', '/api/workflows/wf/runs', undefined, { 'content-type': 'text/plain' }).then(async () => h.api('POST', '/api/workflows/wf/runs', '{"model":{"mode":"fail"}}', { 'content-type': 'text/plain' })));
  show('start null', await h.api('POST', '/api/workflows/wf/runs', 'null'));
  show('start array', await h.api('POST', '/api/workflows/wf/runs', '[1]'));
  const failed = await h.start('wf', { model: { mode: 'fail' } }, '?wait=5000');
  console.log('failed status', failed.status);
  show('retry null', await h.api('POST', `/api/runs/${failed.id}/retry`, 'null'));
  const w = await h.start('wf', { model: { mode: 'wait' } }, '?wait=5000');
  console.log('wait status', w.status);
  show('cancel array', await h.api('POST', `/api/runs/${w.id}/cancel`, '[1,2]'));
  show('put deep value', await h.api('PUT', '/api/workflows/deepv', `{"stages":[{"id":"a","name":"A","steps":[{"id":"x","type":"updateModelField","field":"f","value":${deep(10000)}}]}]}`));
  show('put deep top', await h.api('PUT', '/api/workflows/deept', deepObj(10000)));
  show('validate deep', await h.api('POST', '/api/workflows/validate', deepObj(10000)));
  show('validate deep arr', await h.api('POST', '/api/workflows/validate', deep(10000)));
  show('start deep model', await h.api('POST', '/api/workflows/wf/runs', `{"model":${deepObj(10000)}}`));
  show('template deep', await h.api('PUT', '/api/templates/t1', `{"body":${deepObj(10000)}}`));
  show('dataflow deep', await h.api('PUT', '/api/dataflows/d1', `{"kind":${deepObj(10000)}}`));
  show('dataflow proto', await h.api('PUT', '/api/dataflows/d1', `{"kind":"module","module":"x","__proto__":{"polluted":1}}`));
  show('designer start restricted', await h.api('POST', '/api/workflows/rwf/runs', {}, { authorization: `Bearer ${keyOf('dana')}` }));
  const r = await h.start('rwf', { entryId: 'secret-entry', model: { secret: 's3cr3t' } });
  show('open on restricted entry', await h.api('POST', '/api/workflows/wf/runs', { entryId: 'secret-entry', model: { mode: 'fail' } }, { authorization: `Bearer ${keyOf('other-user')}` }));
  // cookie
  const login = await fetch(h.base + '/admin/login', { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'key=test-admin-key-0123456789' });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  console.log('login', login.status, login.headers.get('set-cookie'));
  for (const origin of [undefined, 'null', 'http://evil.test', h.base]) {
    const res = await fetch(h.base + '/admin/queues/api/queues/nope/pause', { method: 'PUT', headers: { cookie, ...(origin ? { origin } : {}) } });
    console.log('cookie PUT origin', origin, res.status, (await res.text()).slice(0, 100));
  }
  const res2 = await fetch(h.base + '/admin/queues/api/queues/nope/pause', { method: 'PUT', headers: { cookie, referer: 'not a url' } });
  console.log('cookie PUT bad referer', res2.status);
  show('validate text', await h.api('POST', '/api/workflows/validate', '{"stages":[]}', { 'content-type': 'text/plain' }));
  show('put text', await h.api('PUT', '/api/workflows/tx', '{"stages":[]}', { 'content-type': 'text/plain' }));
  show('confirm link bad', await h.api('POST', '/confirm/' + 'a'.repeat(20) + '.' + 'b'.repeat(43), undefined, { accept: 'application/json' }));
  show('huge', await h.api('PUT', '/api/workflows/huge', JSON.stringify({ title: 'x'.repeat(1024 * 1024 + 10) })));
  show('login huge', await h.api('POST', '/admin/login', 'key=' + 'x'.repeat(5000), { 'content-type': 'application/x-www-form-urlencoded' }));
  show('charset', await h.api('PUT', '/api/workflows/cs', '{}', { 'content-type': 'application/json; charset=koi8-r' }));
  show('gzip', await h.api('PUT', '/api/workflows/cs', '{}', { 'content-type': 'application/json', 'content-encoding': 'gzip' }));
  show('notif', await h.api('POST', '/api/me/notifications/' + 'x'.repeat(100) + '/read', {}));
}, 60000);
