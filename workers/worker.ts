/** A step worker process: `npm run worker`, or `node --import tsx workers/worker.ts`; start as many as you like. */
import { main } from '../src/runtime.ts';

await main('worker');
