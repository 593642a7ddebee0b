/** `npm start` (API + worker in one process) and `npm run api` (--role=api). */
import { main, type Role } from './runtime.ts';

const arg = process.argv.find((a) => a.startsWith('--role='));
const role = (arg?.slice('--role='.length) ?? 'all') as Role;
if (!['all', 'api', 'worker'].includes(role)) {
  process.stderr.write(`unknown role ${role}; use --role=all|api|worker\n`);
  process.exit(2);
}
await main(role);
