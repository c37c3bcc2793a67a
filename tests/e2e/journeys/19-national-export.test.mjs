// Journey 19 — the bureau reports to the national system: on the export
// screen it picks a period and downloads the registered contracts in the
// layout of the national 技术合同登记表 — Excel, CSV in GB18030 and in UTF-8 —
// and the rows are the contracts its offices registered in that period
// (counted here from GET /api/v1/contracts, independently of the export).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { launch, signIn, go, shot, screen, apiLogin, apiGet, apiAll, yearCN } from '../lib.mjs';

const REGION_PREFIX = '5119';   // the demo bureau: 巴中市 511900 and below

async function fetchDownload(page, button) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
  return { name: dl.suggestedFilename(), bytes: readFileSync(await dl.path()) };
}

test('bureau: national reporting export of a period, three formats', async () => {
  const token = await apiLogin('bureau');
  const year = yearCN();
  const contracts = await apiAll('/contracts?status=registered', token);
  const offices = (await apiGet('/offices')).body.items;
  const inRegion = new Set(offices.filter((o) => o.region_code.startsWith(REGION_PREFIX)).map((o) => o.id));
  const want = contracts.filter((c) => yearCN(c.registered_at) === year && inRegion.has(c.office_id))
    .map((c) => c.registration_no).sort();
  const b = await launch();
  const page = await b.page();
  try {
    await signIn(page, 'bureau');
    await go(page, '/bureau/exports');
    await page.locator('[data-testid=national-export]').waitFor();
    await page.fill('input[name=from]', `${year}-01-01`);
    await page.fill('input[name=to]', `${year}-12-31`);
    await screen(page, 'journey-19-national-export');

    const utf8 = await fetchDownload(page, 'button[data-national="utf-8"]');
    assert.match(utf8.name, /^技术合同登记表_.*\.csv$/);
    assert.deepEqual([...utf8.bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 with a byte-order mark');
    const text = new TextDecoder('utf-8').decode(utf8.bytes.subarray(3));
    const lines = text.split('\r\n').filter(Boolean);
    assert.match(lines[0], /^登记编号,项目名称,合同类别代码,合同类别,合同子类代码,合同子类,/);
    const got = lines.slice(1).map((l) => l.split(',')[0]).sort();
    assert.deepEqual(got, want, 'one row for each contract the region\'s offices registered this year');
    assert.ok(want.length > 0, 'the demo data has registrations this year');

    const gb = await fetchDownload(page, 'button[data-national="gb18030"]');
    assert.notDeepEqual([...gb.bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    assert.equal(new TextDecoder('gb18030').decode(gb.bytes), text, 'the same table in GB18030');

    const x = await fetchDownload(page, 'button[data-national="xlsx"]');
    assert.match(x.name, /\.xlsx$/);
    assert.equal(x.bytes.subarray(0, 2).toString(), 'PK', 'an XLSX (zip) workbook');

    // a period with nothing in it still gives the header row
    await page.fill('input[name=from]', `${year + 1}-01-01`);
    await page.fill('input[name=to]', `${year + 1}-01-31`);
    const empty = await fetchDownload(page, 'button[data-national="utf-8"]');
    assert.equal(new TextDecoder('utf-8').decode(empty.bytes.subarray(3)).split('\r\n').filter(Boolean).length, 1);
    // a period that ends before it starts: the page says so in Chinese
    await page.fill('input[name=to]', `${year}-01-01`);
    await page.click('button[data-national="xlsx"]');
    await page.locator('main .alert-error, main .field-error').first().waitFor();
    await screen(page, 'journey-19-national-export-error');
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(page, 'journey-19-FAILED').catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
});
