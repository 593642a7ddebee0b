export { compare, deepEqual, parseIsoDate } from './operators.ts';
export { evaluateCondition } from './evaluate.ts';
