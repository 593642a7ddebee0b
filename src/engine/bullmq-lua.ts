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
