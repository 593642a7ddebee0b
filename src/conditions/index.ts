export { compare, deepEqual, order, parseIsoDate, OPERATORS, ORDERING_OPERATORS, type Operator } from './operators.ts';
export { evaluateCondition, type Condition } from './evaluate.ts';
