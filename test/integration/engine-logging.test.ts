/**
 * An engine's Redis connection logs its errors through the engine's logger, so they carry the
 * caller's context and level (a silent test engine stays silent), not the process default's.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { engineTestOptions } from '../helpers/harness.ts';
import { freePort, uniquePrefix } from '../helpers/redis.ts';

describe('engine connection logging', () => {
  it.each([true, false])('a connection that cannot reach Redis logs through the engine logger (failFast %s)', async (failFast) => {
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    const log = createLogger({ level: 'info', destination }).child({ engine: 'test-engine' });
    const port = await freePort(); // nothing listens there
    const engine = Engine.open(engineTestOptions(uniquePrefix('englog'), { redisUrl: `redis://127.0.0.1:${port}` }), log, { failFast });
    try {
      const end = Date.now() + 5_000;
      while (!lines.some((l) => l.msg === 'redis connection error') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      expect(lines.find((l) => l.msg === 'redis connection error')).toMatchObject({ engine: 'test-engine', level: 50 });
    } finally {
      await engine.close().catch(() => undefined);
    }
  });
});
