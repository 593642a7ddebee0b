/**
 * Fixture document templates, built here from their parts with the same libraries a designer's
 * tools would produce them with (pizzip for a minimal WordprocessingML package, exceljs for a
 * workbook), so the tests need no binary files and show what a template holds.
 */
import ExcelJS from 'exceljs';
import PizZip from 'pizzip';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const para = (text: string) => `<w:p><w:r><w:t xml:space="preserve">${esc(text)}</w:t></w:r></w:p>`;
const cell = (text: string) => `<w:tc><w:tcPr><w:tcW w:w="2000" w:type="dxa"/></w:tcPr>${para(text)}</w:tc>`;
const row = (cells: string[]) => `<w:tr>${cells.map(cell).join('')}</w:tr>`;

/** A .docx whose body is these paragraphs, with `table` rows (strings are cell texts) after them. */
export function buildDocx(paragraphs: string[], table: string[][] = [], after: string[] = []): Buffer {
  const zip = new PizZip();
  zip.file(
    '[Content_Types].xml',
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
      '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>' +
      '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
  );
  zip.file(
    '_rels/.rels',
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
      '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
  );
  const tbl = table.length ? `<w:tbl><w:tblPr><w:tblW w:w="0" w:type="auto"/></w:tblPr>${table.map(row).join('')}</w:tbl>` : '';
  zip.file(
    'word/document.xml',
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>' +
      paragraphs.map(para).join('') +
      tbl +
      after.map(para).join('') +
      '<w:sectPr/></w:body></w:document>',
  );
  return zip.generate({ type: 'nodebuffer', compression: 'DEFLATE' });
}

/** The order-confirmation docx used by the tests: text, a number, a date, a condition and a table loop. */
export function orderDocx(): Buffer {
  return buildDocx(
    ['Order for {customer.name}', 'Total: {total}', 'Ordered on {orderedAt}', '{#vip}Thank you for being a VIP customer{/vip}'],
    [
      ['Item', 'Qty', 'Price'],
      ['{#items}{name}', '{qty}', '{price}{/items}'],
    ],
    ['End of order'],
  );
}

/** A workbook with single-value cells and a table row that xlsx-template expands. */
export async function orderXlsx(): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet('Order');
  ws.getCell('A1').value = 'Customer';
  ws.getCell('B1').value = '${customer.name}';
  ws.getCell('A2').value = 'Total';
  ws.getCell('B2').value = '${total}';
  ws.getCell('A3').value = 'Ordered on';
  ws.getCell('B3').value = '${orderedAt}';
  ws.getCell('B3').numFmt = 'yyyy-mm-dd';
  ws.getCell('A5').value = 'Item';
  ws.getCell('B5').value = 'Qty';
  ws.getCell('C5').value = 'Price';
  ws.getCell('A6').value = '${table:items.name}';
  ws.getCell('B6').value = '${table:items.qty}';
  ws.getCell('C6').value = '${table:items.price}';
  return Buffer.from(await wb.xlsx.writeBuffer());
}

/** A pdfmake document definition with placeholders and a repeated table row. */
export function orderPdf(): Record<string, unknown> {
  return {
    content: [
      { text: 'Order for {{ customer.name }}', style: 'header' },
      'Total: {{ total }}',
      'Ordered on {{ orderedAt | date: "%Y-%m-%d" }}',
      {
        table: {
          headerRows: 1,
          body: [
            ['Item', 'Qty', 'Price'],
            { $repeat: 'items', as: 'item', each: ['{{ item.name }}', '{{ item.qty }}', '{{ item.price }}'] },
          ],
        },
      },
    ],
    styles: { header: { fontSize: 16, bold: true } },
  };
}

/** The model all three are rendered with: text, numbers, a date and a 100-row table. */
export function orderModel(rows = 100) {
  return {
    customer: { name: 'Ada Lovelace & Co' },
    total: 1234.5,
    orderedAt: '2026-03-14T09:26:53.000Z',
    vip: true,
    items: Array.from({ length: rows }, (_, i) => ({ name: `Widget ${i + 1}`, qty: i + 1, price: Math.round((i + 1) * 2.5 * 100) / 100 })),
  };
}
