// Validation (debounced, by the API) and saving, mixed into the Builder (builder.js): what is
// shown on cards and fields, and the "Save as new workflow" question on a rename.
import { api, ApiError, enc, get } from './api.js';
import { confirmDialog, h, message, replace } from './dom.js';
import { placeIssues } from './definition.js';
import { applyFormIssues, renderVersions, renderWorkflowPanel } from './builder-panel.js';
import { unknownReferences } from './builder-pickers.js';
import { issueLine } from './builder-messages.js';

const VALIDATE_DELAY_MS = 300;
const json = (v) => JSON.stringify(v);

export const checks = {
  // ---------------------------------------------------------------- validation

  scheduleValidate() {
    this.validateSeq++;
    this.validity = 'pending';
    this.renderValidity();
    clearTimeout(this.validateTimer);
    this.validateTimer = setTimeout(() => this.validateNow(), VALIDATE_DELAY_MS);
  },

  /** Validates the current definition; resolves {valid, snapshot} (valid null when stale or failed). */
  async validateNow() {
    clearTimeout(this.validateTimer);
    const seq = ++this.validateSeq;
    const snapshot = JSON.parse(JSON.stringify(this.def));
    this.validity = 'pending';
    this.renderValidity();
    let res;
    try {
      res = (await api('POST', '/api/workflows/validate', snapshot)).body;
    } catch (err) {
      if (seq !== this.validateSeq) return { valid: null, snapshot };
      this.validity = 'error';
      this.validityError = err.message;
      this.renderValidity();
      return { valid: null, snapshot };
    }
    if (seq !== this.validateSeq) return { valid: null, snapshot };
    this.issues = { errors: res.errors ?? [], warnings: res.warnings ?? [] };
    this.validity = res.valid ? 'valid' : 'invalid';
    // a "not saved" banner goes once what it complained about is fixed
    if (res.valid && this.saveStatus.querySelector('.msg-error[data-kind="invalid"]')) replace(this.saveStatus);
    this.renderValidity();
    this.applyIssues();
    this.renderProblems();
    return { valid: res.valid, snapshot };
  },

  /** What is shown: nothing on an untouched new workflow; server warnings plus unknown references. */
  shownIssues() {
    if (!this.touched) return { errors: [], warnings: [] };
    const errors = this.issues.errors.filter((e) => this.touchedName || this.savedName || this.attempted || e.path !== '$.name');
    const server = [...this.issues.warnings, ...this.serverWarnings];
    const seen = new Set(server.map((w) => w.path));
    const client = unknownReferences(this).filter((w) => !seen.has(w.path) && ![...seen].some((p) => w.path.startsWith(`${p}[`)));
    const warnings = [...new Map([...server, ...client].map((w) => [`${w.path}\u0000${w.message}`, w])).values()];
    return { errors, warnings };
  },

  renderValidity() {
    const el = this.validityEl;
    el.className = `validity validity-${this.touched ? this.validity : 'unknown'}`;
    const { errors, warnings } = this.shownIssues();
    const n = errors.length;
    const w = warnings.length;
    el.textContent = !this.touched
      ? 'New workflow'
      : {
          pending: 'Checking…',
          valid: `Valid${w ? ` · ${w} warning${w === 1 ? '' : 's'}` : ''}`,
          invalid: n ? `${n} problem${n === 1 ? '' : 's'}` : 'Incomplete',
          error: `Could not check: ${this.validityError ?? ''}`,
          unknown: '',
        }[this.validity];
    el.dataset.state = this.touched ? this.validity : 'untouched';
  },

  applyIssues() {
    if (!this.cardEls) return;
    const shown = this.shownIssues();
    const errors = placeIssues(this.def, this.types, shown.errors);
    const warnings = placeIssues(this.def, this.types, shown.warnings);
    for (const [step, card] of this.cardEls) {
      const errs = errors.byStep.get(step) ?? [];
      const warns = warnings.byStep.get(step) ?? [];
      card.classList.toggle('has-error', errs.length > 0);
      card.classList.toggle('has-warning', warns.length > 0);
      replace(
        card.querySelector('.card-issues'),
        errs.map((e) => h('li', { class: 'issue-error' }, h('span', { class: 'visually-hidden' }, 'Error: '), issueLine(e))),
        warns.map((e) => h('li', { class: 'issue-warning' }, h('span', { class: 'visually-hidden' }, 'Warning: '), issueLine(e))),
      );
    }
    for (const [stage, el] of this.stageEls) {
      const errs = errors.byStage.get(stage) ?? [];
      el.classList.toggle('has-error', errs.length > 0);
      replace(
        el.querySelector('.stage-issues'),
        errs.map((e) => h('li', { class: 'issue-error' }, issueLine(e))),
      );
    }
    applyFormIssues(this, errors, warnings);
    this.renderValidity();
  },

  // ---------------------------------------------------------------- save

  async save() {
    if (this.readOnly || this.saving) return;
    this.attempted = true;
    this.touched = true;
    if (this.renaming()) {
      const ok = await confirmDialog({
        title: 'Save as new workflow?',
        message: `The name changed from “${this.savedName}” to “${this.def.name}”. Saving creates a new workflow “${this.def.name}”; “${this.savedName}” stays as it is.`,
        confirmLabel: 'Save as new workflow',
      });
      if (!ok) return;
    }
    this.saving = true;
    this.saveBtn.disabled = true;
    replace(this.saveStatus, message('info', 'Checking…'));
    try {
      const { valid, snapshot } = await this.validateNow();
      if (valid !== true) {
        const n = this.shownIssues().errors.length;
        replace(
          this.saveStatus,
          message(
            'error',
            valid === false
              ? `Not saved: the workflow has ${n} problem${n === 1 ? '' : 's'} (see the marked steps and the Problems list).`
              : 'Not saved: the workflow could not be checked. Try again.',
          ),
        );
        this.saveStatus.querySelector('.msg').dataset.kind = 'invalid';
        return;
      }
      const res = await api('PUT', `/api/workflows/${enc(snapshot.name)}`, snapshot);
      const { version, warnings } = res.body;
      const renamed = this.savedName !== snapshot.name;
      this.savedName = snapshot.name;
      this.version = version;
      this.latest = version;
      this.from = null;
      this.savedJson = json(snapshot);
      this.serverWarnings = (warnings ?? []).filter((w) => w && typeof w === 'object' && typeof w.path === 'string');
      history.replaceState(null, '', `/builder/${enc(snapshot.name)}`);
      document.title = 'Builder · stageflow';
      replace(
        this.saveStatus,
        message(
          'ok',
          res.status === 201 ? `Saved as version ${version}.` : `No changes since version ${version}.`,
          warnings?.length ? ` ${warnings.length} warning${warnings.length === 1 ? '' : 's'}.` : '',
          ' ',
          h('a', { href: `/runs?workflow=${enc(snapshot.name)}` }, 'Runs of this workflow'),
        ),
      );
      this.saveStatus.querySelector('.msg').dataset.version = String(version);
      this.versions = (await get(`/api/workflows/${enc(snapshot.name)}/versions`)).items;
      if (renamed) {
        // the Run button belongs to a saved workflow
        if (!this.runBtn) {
          this.runBtn = h('button', { type: 'button', id: 'run-open', onclick: () => this.openRun() }, '▶ Run');
          this.saveBtn.before(this.runBtn);
        }
        renderWorkflowPanel(this);
      }
      renderVersions(this);
      this.renderHead();
      this.applyIssues();
      this.renderProblems();
      if (renamed) this.titleEl.focus?.();
    } catch (err) {
      if (err instanceof ApiError && err.status === 400 && err.errors.length) {
        this.issues = { errors: err.errors, warnings: [] };
        this.validity = 'invalid';
        this.renderValidity();
        this.applyIssues();
        this.renderProblems();
      }
      replace(this.saveStatus, message('error', `Not saved: ${err instanceof ApiError ? err.describe() : err.message}`));
    } finally {
      this.saving = false;
      this.saveBtn.disabled = false;
    }
  },
};
