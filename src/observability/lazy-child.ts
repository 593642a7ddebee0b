/**
 * A pino child logger made on first use. The step processor binds run, step, seq and attempt to
 * every line, but most steps log nothing; making the child costs more than the step's own work.
 */
import type { Logger } from 'pino';

export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let child: Logger | undefined;
  return new Proxy({} as Logger, {
    get(_target, prop) {
      child ??= parent.child(bindings);
      const value = Reflect.get(child, prop, child) as unknown;
      return typeof value === 'function' ? value.bind(child) : value;
    },
  });
}
