// Journey 21 — the official documents as PDF: the admin uploads the seal image
// of the demo officer's registry office (a file that is not a PNG first: the
// screen says so and nothing is stored), then the officer opens a registered
// contract of that office and downloads its 技术合同登记证明 and 技术合同登记表
// as PDF — from the contract page and from the certificate page.  The PDFs are
// read back with poppler (pdftotext, pdfimages): the number, the title, the
// parties, the amounts in 大写, and the seal drawn on both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { deflateSync } from 'node:zlib';
import { launch, signIn, signOut, go, shot, screen, apiLogin, apiGet, apiAll } from '../lib.mjs';

// A side×side PNG of one colour (a stand-in for a seal).
const CRC = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
function crc32(buf) { let c = 0xffffffff; for (const b of buf) c = CRC[(c ^ b) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; }
function chunk(kind, data) {
  const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(kind, 'latin1'), data]);
  const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}
function png(side) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0); ihdr.writeUInt32BE(side, 4); ihdr[8] = 8; ihdr[9] = 6;
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(side * 4, Buffer.from([200, 30, 30, 255]))]);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.concat(Array(side).fill(row)))), chunk('IEND', Buffer.alloc(0))]);
}

async function fetchDownload(page, button) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
  return { name: dl.suggestedFilename(), path: await dl.path() };
}
const pdfText = (path) => execFileSync('pdftotext', ['-enc', 'UTF-8', path, '-'], { encoding: 'utf8' }).replace(/\s+/g, '');
const pdfImages = (path) => execFileSync('pdfimages', ['-list', path], { encoding: 'utf8' });
const SEAL = /^\s*\d+\s+\d+\s+image\s+200\s+200\s/m;

test('admin uploads the office seal; officer downloads the certificate and the form as PDF', async () => {
  const token = await apiLogin('officer');
  const office = (await apiGet('/me', token)).body.office;
  assert.ok(office, 'the demo officer has an office');
  const mine = (await apiAll('/contracts?status=registered', token)).filter((c) => c.office_id === office.id && !c.import_batch_id);
  assert.ok(mine.length > 0, 'the demo office has registered contracts');
  const c = mine[0];
  const b = await launch();
  const page = await b.page();
  try {
    // the admin: the office's seal, a wrong file first
    await signIn(page, 'admin');
    await go(page, '/admin/offices');
    await page.click(`button[data-seal="${office.id}"]`);
    await page.locator('[data-testid=seal-current]').waitFor();
    await page.setInputFiles('input[name=seal-file]', { name: '印章.png', mimeType: 'image/png', buffer: Buffer.from('GIF89a not a png at all') });
    await page.click('[data-action=seal-upload]');
    const bad = page.locator('[data-testid=seal-error]');
    await bad.waitFor();
    assert.equal((await bad.textContent()).trim(), '印章须为 PNG 格式的图片。');
    await page.setInputFiles('input[name=seal-file]', { name: '印章.png', mimeType: 'image/png', buffer: png(200) });
    await page.click('[data-action=seal-upload]');
    await page.locator('main .alert-success').waitFor();
    await page.locator('[data-testid=seal-current] img').waitFor();
    await screen(page, 'journey-21-office-seal');
    await signOut(page);

    // the officer: the contract page, then the certificate page
    await signIn(page, 'officer');
    await go(page, '/contracts/' + c.id);
    await page.locator('button[data-pdf=certificate]').waitFor();
    await screen(page, 'journey-21-contract-documents');
    const cert = await fetchDownload(page, 'button[data-pdf=certificate]');
    assert.match(cert.name, /\.pdf$/);
    assert.equal(readFileSync(cert.path).subarray(0, 5).toString(), '%PDF-');
    const ct = pdfText(cert.path);
    for (const want of ['技术合同登记证明', c.registration_no, c.title.replace(/\s+/g, ''), c.seller.name.replace(/\s+/g, ''),
      c.buyer.name.replace(/\s+/g, ''), '大写：人民币', office.name.replace(/\s+/g, '')]) {
      assert.ok(ct.includes(want), `the certificate shows ${want}`);
    }
    assert.match(pdfImages(cert.path), SEAL, 'the seal is drawn on the certificate');

    const form = await fetchDownload(page, 'button[data-pdf=form]');
    const ft = pdfText(form.path);
    for (const want of ['技术合同登记表', c.registration_no, c.title.replace(/\s+/g, ''), '大写：人民币']) {
      assert.ok(ft.includes(want), `the form shows ${want}`);
    }
    assert.match(pdfImages(form.path), SEAL, 'the seal is drawn on the form');

    await go(page, '/certificate/' + c.id);
    await page.locator('main button[data-pdf=certificate]').waitFor();
    const again = await fetchDownload(page, 'main button[data-pdf=certificate]');
    assert.ok(pdfText(again.path).includes(c.registration_no));
    assert.deepEqual(b.errors, [], 'no script errors in the page');
  } catch (e) {
    await shot(page, 'journey-21-FAILED').catch(() => {});
    throw e;
  } finally {
    await b.close();
  }
});
