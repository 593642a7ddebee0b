// Undo/redo over whole-definition snapshots (JSON text): cheap at workflow sizes, and a restore
// can never leave the canvas half-updated. Typing is grouped: one entry per pause.
const LIMIT = 200;
const GROUP_MS = 600;

export class History {
  constructor(initial) {
    this.current = initial;
    this.undos = [];
    this.redos = [];
    this.timer = undefined;
    this.pending = null;
  }

  /** Records `next` as the new state; `group` merges quick successive edits (typing). */
  record(next, { group = false } = {}) {
    if (group) {
      this.pending = next;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.flush(), GROUP_MS);
      return;
    }
    this.pending = next;
    this.flush();
  }

  flush() {
    clearTimeout(this.timer);
    const next = this.pending;
    this.pending = null;
    if (next === null || next === this.current) return;
    this.undos.push(this.current);
    if (this.undos.length > LIMIT) this.undos.shift();
    this.redos = [];
    this.current = next;
  }

  canUndo() {
    return this.undos.length > 0 || (this.pending !== null && this.pending !== this.current);
  }
  canRedo() {
    return this.redos.length > 0 && this.pending === null;
  }

  /** The state to go back to, or null. */
  undo() {
    this.flush();
    if (!this.undos.length) return null;
    this.redos.push(this.current);
    this.current = this.undos.pop();
    return this.current;
  }

  redo() {
    this.flush();
    if (!this.redos.length) return null;
    this.undos.push(this.current);
    this.current = this.redos.pop();
    return this.current;
  }
}
