// SPDX-License-Identifier: MIT
// seqtick-bench http, dashboard part: loads the dashboard in Debian's headless
// Chromium and measures over SECONDS how busy the page's main thread is
// (CDP Performance.getMetrics TaskDuration over wall time) and whether its
// memory stays flat (JS heap after a forced GC, DOM nodes, listeners).
//   node bench_dashboard.js URL SECONDS PROFILE_DIR
// Prints one JSON line on stdout.
'use strict';
const puppeteer = require('puppeteer-core');

const [url, secondsArg, profileDir] = process.argv.slice(2);
const seconds = Number(secondsArg || 60);

async function metrics(cdp) {
  const { metrics: list } = await cdp.send('Performance.getMetrics');
  const m = {};
  for (const { name, value } of list) m[name] = value;
  return m;
}

async function heapAfterGc(cdp) {
  await cdp.send('HeapProfiler.collectGarbage');
  return metrics(cdp);
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
  try {
    const page = await browser.newPage();
    const cdp = await page.target().createCDPSession();
    await cdp.send('Performance.enable', { timeDomain: 'timeTicks' });
    await cdp.send('HeapProfiler.enable');
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 30000 });
    await page.waitForFunction(() => document.getElementById('conn').className === 'live' &&
      document.querySelectorAll('#quotes tbody tr').length > 0, { timeout: 30000 });
    await new Promise((r) => setTimeout(r, 3000)); // warm up: history seeded, JIT settled
    const updates0 = await page.evaluate(() => {
      window.__quotes = 0;
      const tb = document.querySelector('#quotes tbody');
      new MutationObserver((ms) => { window.__quotes += ms.length; })
        .observe(tb, { subtree: true, characterData: true, childList: true });
      return 0;
    });
    const a = await heapAfterGc(cdp);
    const t0 = Date.now();
    const samples = [];
    while (Date.now() - t0 < seconds * 1000) {
      await new Promise((r) => setTimeout(r, Math.min(5000, seconds * 1000 / 4)));
      const m = await metrics(cdp);
      samples.push({ t_s: Math.round((Date.now() - t0) / 1000), heap_mb: +(m.JSHeapUsedSize / 1048576).toFixed(2), nodes: m.Nodes });
    }
    const b = await metrics(cdp);
    const wall = b.Timestamp - a.Timestamp;
    const busy = (b.TaskDuration - a.TaskDuration) / wall;
    const script = (b.ScriptDuration - a.ScriptDuration) / wall;
    const layout = ((b.LayoutDuration + b.RecalcStyleDuration) - (a.LayoutDuration + a.RecalcStyleDuration)) / wall;
    const rate = await page.evaluate(() => document.getElementById('rate').textContent);
    const c = await heapAfterGc(cdp);
    const mutations = await page.evaluate(() => window.__quotes) - updates0;
    console.log(JSON.stringify({
      seconds: +wall.toFixed(1),
      main_thread_busy_pct: +(busy * 100).toFixed(2),
      script_pct: +(script * 100).toFixed(2),
      style_layout_pct: +(layout * 100).toFixed(2),
      heap_mb_start: +(a.JSHeapUsedSize / 1048576).toFixed(2),
      heap_mb_end: +(c.JSHeapUsedSize / 1048576).toFixed(2),
      nodes_start: a.Nodes, nodes_end: c.Nodes,
      listeners_start: a.JSEventListeners, listeners_end: c.JSEventListeners,
      page_rate: rate,
      dom_mutations_per_s: Math.round(mutations / wall),
      samples,
    }));
  } finally {
    await browser.close();
  }
}

main().then(() => process.exit(0), (e) => { console.error(`bench_dashboard: ${e && e.stack || e}`); process.exit(1); });
