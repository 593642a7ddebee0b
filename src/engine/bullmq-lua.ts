/**
 * One of BullMQ's own Lua scripts as a Lua function our scripts can call (bullmq-add.ts,
 * bullmq-finish.ts). bullmq is pinned to an exact version; the key count is the interface we rely
 * on, so a version whose script takes other keys fails here, at load, naming the file to revisit.
 */
export function bullmqScriptAsFunction(
  fn: string,
  script: { name: string; keys: number; content: string },
  expectedKeys: number,
  seeFile: string,
): string {
  if (script.keys !== expectedKeys) {
    throw new Error(`bullmq's ${script.name} now takes ${script.keys} keys, stageflow expects ${expectedKeys}; see ${seeFile}`);
  }
  // Inside a function, KEYS and ARGV are its parameters, so BullMQ's script reads ours.
  return `local function ${fn}(KEYS, ARGV)\n${script.content}\nend\n`;
}

/**
 * BullMQ's script with one of its msgpack reads (`local x = cmsgpack.unpack(ARGV[n])`) taking the
 * table itself: our scripts hold the value as a table already, and packing it only for BullMQ's
 * script to unpack costs instructions on every step (docs/design-notes.md, "Commit and finish in
 * one call"). The line must occur exactly once, or the pinned version moved and this fails at load.
 */
export function takingTable(content: string, line: string, seeFile: string): string {
  const at = content.indexOf(line);
  if (at < 0 || content.indexOf(line, at + 1) >= 0) {
    throw new Error(`bullmq's script no longer reads \`${line}\` once; see ${seeFile}`);
  }
  return content.slice(0, at) + line.replace(/cmsgpack\.unpack\((ARGV\[\d+\])\)/, '$1') + content.slice(at + line.length);
}
