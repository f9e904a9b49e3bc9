// SPDX-License-Identifier: MIT
// The dashboard in a real browser: Debian's Chromium, headless, driven by
// puppeteer-core. Run by test_dashboard.py, which owns the server:
//   node dashboard_test.js URL TICKERS SCREENSHOT_DIR PROFILE_DIR sse|polling
// (sse: the server streams, the indicator must say live; polling: the server
// has no /v1/stream yet and the page falls back to polling /v1/quotes)
// Protocol with the wrapper: this prints "KILL" when it wants the server
// killed, then waits for "RESTARTED" on stdin. Exit 0 = pass.
'use strict';
const puppeteer = require('puppeteer-core');
const readline = require('readline');
const path = require('path');

const [url, tickerList, shotDir, profileDir, mode] = process.argv.slice(2);
const upState = mode === 'polling' ? 'polling' : 'live';
const tickers = tickerList.split(',');
const lines = readline.createInterface({ input: process.stdin });
const waiters = [];
lines.on('line', (l) => { const w = waiters.shift(); if (w) w(l.trim()); });
const nextLine = () => new Promise((resolve) => waiters.push(resolve));

function log(msg) { console.error(`[browser ${new Date().toISOString()}] ${msg}`); }

// price changes seen by the page itself (a MutationObserver on the price cells)
async function installCounter(page) {
  await page.evaluate(() => {
    window.__changes = 0;
    window.__connStates = [];
    const tb = document.querySelector('#quotes tbody');
    new MutationObserver((muts) => {
      for (const m of muts) {
        const td = m.target.nodeType === 1 ? m.target : m.target.parentNode;
        if (td && td.classList && td.classList.contains('px')) window.__changes++;
      }
    }).observe(tb, { childList: true, subtree: true, characterData: true });
    const conn = document.getElementById('conn');
    new MutationObserver(() => window.__connStates.push(conn.className))
      .observe(conn, { attributes: true, attributeFilter: ['class'] });
  });
}

async function changesWithin(page, want, ms) {
  const start = await page.evaluate(() => window.__changes);
  await page.waitForFunction((s, w) => window.__changes - s >= w, { timeout: ms, polling: 50 },
    start, want);
  return (await page.evaluate(() => window.__changes)) - start;
}

async function allPriced(page, ms) {
  await page.waitForFunction((ts) => ts.every((t) => {
    const tr = document.querySelector(`#quotes tr[data-ticker="${t}"]`);
    return tr && /^[0-9.]+$/.test(tr.querySelector('td.px').textContent);
  }), { timeout: ms, polling: 100 }, tickers);
}

async function main() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    userDataDir: profileDir,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${profileDir}`, '--window-size=1280,800'],
    defaultViewport: { width: 1280, height: 800 },
  });
  let page;
  try {
    page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') log(`console: ${m.text()}`); });
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 30000 });
    await installCounter(page);
    await allPriced(page, 30000);
    log(`every ticker priced: ${tickers.join(',')}`);
    const n1 = await changesWithin(page, 5, 3000);
    log(`${n1} price changes within 3 s`);
    await page.waitForFunction((u) => document.getElementById('conn').className === u,
      { timeout: 10000 }, upState);
    await page.screenshot({ path: path.join(shotDir, 'dashboard.png') });

    await page.evaluate(() => { window.__connStates = []; });
    process.stdout.write('KILL\n');
    const ack = await nextLine();
    if (ack !== 'RESTARTED') throw new Error(`wrapper said ${ack}`);
    // the page must notice the loss, come back on its own, and prices move again
    // a stream breaks with the server; a poller may miss a restart quicker
    // than its period, so only the stream must show the drop
    const dropped = page.waitForFunction((u) => window.__connStates.some((s) => s !== u),
      { timeout: 30000, polling: 50 }, upState);
    if (upState === 'live') {
      await dropped;
      log('page saw the connection drop');
    } else {
      dropped.catch(() => {});
    }
    await page.waitForFunction((u) => document.getElementById('conn').className === u,
      { timeout: 60000, polling: 100 }, upState);
    log('page reconnected');
    const n2 = await changesWithin(page, 5, 15000);
    log(`${n2} price changes after the restart`);
    await allPriced(page, 10000);
    log(`rows: ${await page.evaluate(() => document.querySelectorAll('#quotes tbody tr').length)}`);
    // a phone-sized view too (isMobile would make puppeteer reload the page)
    await page.setViewport({ width: 390, height: 844 });
    await new Promise((r) => setTimeout(r, 300));
    await page.screenshot({ path: path.join(shotDir, 'dashboard-phone.png') });
    await page.setViewport({ width: 1280, height: 800 });
    await page.screenshot({ path: path.join(shotDir, 'dashboard-after-restart.png') });
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    process.stdout.write('PASS\n');
  } catch (e) {
    if (page) {
      await page.screenshot({ path: path.join(shotDir, 'dashboard-failure.png') }).catch(() => {});
    }
    throw e;
  } finally {
    await browser.close();
    lines.close();
  }
}

main().then(() => process.exit(0), (e) => { log(`FAIL: ${e && e.stack || e}`); process.exit(1); });
