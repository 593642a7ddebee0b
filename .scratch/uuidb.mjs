import { v7 } from 'uuid';
import { randomFillSync, randomUUID } from 'node:crypto';
for (let r = 0; r < 3; r++) {
let t = process.hrtime.bigint(); for (let i = 0; i < 200000; i++) v7(); let d = Number(process.hrtime.bigint() - t) / 200000;
const b = new Uint8Array(16); let t2 = process.hrtime.bigint(); for (let i = 0; i < 200000; i++) crypto.getRandomValues(b); let d2 = Number(process.hrtime.bigint() - t2) / 200000;
let t3 = process.hrtime.bigint(); for (let i = 0; i < 200000; i++) randomUUID(); let d3 = Number(process.hrtime.bigint() - t3) / 200000;
console.log(`v7 ${d.toFixed(0)} ns, getRandomValues ${d2.toFixed(0)} ns, randomUUID ${d3.toFixed(0)} ns`);
}
