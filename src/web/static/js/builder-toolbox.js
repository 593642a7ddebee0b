// The toolbox: step types by group; a click adds to the selected card's list (after it), or to
// the stage/branch picked with "+ Add step"; dragging drops anywhere on the canvas.
import { h, humanize, replace } from './dom.js';
import { GROUPS, groupClass, iconOf } from './builder-look.js';
import { dragTool } from './builder-dnd.js';

export function renderToolbox(b) {
  if (!b.toolboxEl) return;
  const target = b.resolveTarget();
  const groups = [...GROUPS, ...new Set(b.typeList.map((t) => t.group).filter((g) => !GROUPS.includes(g)))];
  replace(
    b.toolboxEl,
    h('h2', { id: 'toolbox-h' }, 'Toolbox'),
    h(
      'p',
      { class: 'toolbox-target', id: 'toolbox-target', aria: { live: 'polite' } },
      target ? ['Adds to ', h('strong', {}, target.label)] : 'Add a stage first (“+”).',
    ),
    groups.map((group) => {
      const items = b.typeList.filter((t) => t.group === group);
      if (!items.length) return null;
      const hId = `tb-${group.toLowerCase().replace(/[^a-z]+/g, '-')}`;
      return h(
        'div',
        { class: 'tool-group', role: 'group', aria: { labelledby: hId } },
        h('h3', { id: hId }, group),
        h(
          'ul',
          {},
          items.map((t) => {
            const btn = h(
              'button',
              {
                type: 'button',
                class: ['tool', groupClass(t)],
                dataset: { type: t.type },
                disabled: !target,
                title: t.description,
                aria: { describedby: `tb-desc-${t.type}` },
                onclick: () => b.addStep(t.type),
              },
              h('span', { class: 'card-icon', aria: { hidden: 'true' } }, iconOf(t.type)),
              ' ',
              humanize(t.type),
            );
            dragTool(btn, t.type);
            return h('li', {}, btn, h('span', { class: 'visually-hidden', id: `tb-desc-${t.type}` }, t.description));
          }),
        ),
      );
    }),
  );
}
