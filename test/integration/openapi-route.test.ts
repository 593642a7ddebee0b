/** The OpenAPI document as served: no key needed, and the same document the unit tests check. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../src/api/openapi.ts';
import { startHarness, type Harness } from '../helpers/harness.ts';

const doc = openApiDocument() as any;

describe('GET /openapi.json', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ worker: false });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers 200 without a key', async () => {
    const res = await fetch(`${h.base}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = await res.json();
    expect(body.openapi).toMatch(/^3\.1\./);
    expect(body).toEqual(JSON.parse(JSON.stringify(doc)));
  });
});
