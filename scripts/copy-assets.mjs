// The non-TypeScript files the compiled code reads next to itself (via import.meta.url):
// Lua scripts, the web UI, and package.json (the OpenAPI document's version).
import { cpSync } from 'node:fs';

const assets = ['src/engine/lua', 'src/notify/lua', 'src/web/static', 'package.json'];
for (const a of assets) cpSync(a, `dist/${a}`, { recursive: true });
