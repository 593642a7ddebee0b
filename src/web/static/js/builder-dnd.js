// Drag and drop on the canvas (HTML5 DnD): toolbox tools onto a stage or branch, cards between
// lists. The keyboard path is the card's shortcuts and its "Move to…" dialog (builder-dialogs.js).
let dragged = null; // {kind: 'new', type} | {kind: 'move', uid}

const MIME = 'application/x-stageflow-step';

export function dragTool(el, type) {
  el.draggable = true;
  el.addEventListener('dragstart', (e) => {
    dragged = { kind: 'new', type };
    e.dataTransfer.setData(MIME, JSON.stringify(dragged));
    e.dataTransfer.setData('text/plain', type);
    e.dataTransfer.effectAllowed = 'copy';
  });
  el.addEventListener('dragend', () => {
    dragged = null;
  });
}

/** Index in `ol` where a drop at clientY lands: before the first item whose middle is below it. */
function dropIndex(ol, y) {
  const items = [...ol.children].filter((li) => li.classList.contains('step-item'));
  for (let i = 0; i < items.length; i++) {
    const card = items[i].querySelector(':scope > .card');
    const r = (card ?? items[i]).getBoundingClientRect();
    if (y < r.top + r.height / 2) return i;
  }
  return items.length;
}

function clearMarks(root) {
  for (const el of root.querySelectorAll('.drop-here')) el.classList.remove('drop-here');
}

export function attachCanvasDnd(b) {
  const root = b.canvas;
  root.addEventListener('dragstart', (e) => {
    const card = e.target instanceof Element ? e.target.closest('.card[data-uid]') : null;
    if (!card || b.readOnly) return;
    dragged = { kind: 'move', uid: card.dataset.uid };
    e.dataTransfer.setData(MIME, JSON.stringify(dragged));
    e.dataTransfer.setData('text/plain', card.dataset.stepId ?? '');
    e.dataTransfer.effectAllowed = 'move';
    card.classList.add('dragging');
  });
  root.addEventListener('dragend', () => {
    dragged = null;
    clearMarks(root);
    for (const el of root.querySelectorAll('.dragging')) el.classList.remove('dragging');
  });
  const targetList = (e) => {
    const el = e.target instanceof Element ? e.target : null;
    // over a stage or branch but not its list: its own list
    return (
      el?.closest('ol.steps[data-container]') ?? el?.closest('.branch, .stage')?.querySelector(':scope > ol.steps[data-container]') ?? null
    );
  };
  root.addEventListener('dragover', (e) => {
    if (b.readOnly) return;
    const ol = targetList(e);
    if (!ol) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = dragged?.kind === 'move' ? 'move' : 'copy';
    if (!ol.classList.contains('drop-here')) {
      clearMarks(root);
      ol.classList.add('drop-here');
    }
  });
  root.addEventListener('dragleave', (e) => {
    if (e.relatedTarget instanceof Node && root.contains(e.relatedTarget)) return;
    clearMarks(root);
  });
  root.addEventListener('drop', (e) => {
    const ol = targetList(e);
    clearMarks(root);
    if (!ol || b.readOnly) return;
    e.preventDefault();
    let payload = dragged;
    if (!payload) {
      try {
        payload = JSON.parse(e.dataTransfer.getData(MIME));
      } catch {
        payload = null;
      }
    }
    dragged = null;
    if (!payload) return;
    const index = dropIndex(ol, e.clientY);
    if (payload.kind === 'new') b.addStep(payload.type, { container: ol.dataset.container, index });
    else b.moveStepTo(payload.uid, ol.dataset.container, index);
  });
}
