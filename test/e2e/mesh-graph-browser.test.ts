// The mesh graph page in a real browser: Debian's headless chromium driven by playwright-core (no browser download)
// loads the control plane's /graph over a TestMesh with the demo's topology and traffic; the workloads appear as
// SVG nodes, and after ratings starts answering 503 the reviews-v2 → ratings-v1 edge turns red on a refresh.
// Skipped, saying so, where /usr/bin/chromium is missing (.ci/run installs it). MESH_GRAPH_SCREENSHOT=file.png
// saves the page as it looks with the fault.

import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { startGraphMesh, type GraphMesh } from '../support/graph-mesh.ts';

const CHROMIUM = '/usr/bin/chromium';
/** Bound on every wait for the page; the page redraws every 0.5 s. */
const PAGE_WAIT_MS = 15_000;

let m: GraphMesh | undefined;
let browser: Browser | undefined;
afterEach(async () => {
  await browser?.close();
  await m?.close();
  browser = m = undefined;
});

describe('the /graph page in headless chromium', () => {
  it('draws the demo\'s workloads as nodes and an edge red once its calls fail', { timeout: 60_000 }, async (ctx) => {
    if (!existsSync(CHROMIUM)) ctx.skip(`${CHROMIUM} is not installed (apt-get install chromium; .ci/run does): the mesh graph's browser test is skipped`);
    m = await startGraphMesh({ intervalMs: 300 });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: PAGE_WAIT_MS });
    const page = await browser.newPage({ viewport: { width: 1400, height: 400 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('console', (msg) => { if (msg.type() === 'error') problems.push(msg.text()); });
    // Nothing but the control plane: no CDN, font or image.
    page.on('request', (r) => { if (new URL(r.url()).origin !== new URL(m!.pageUrl).origin) problems.push(`fetched ${r.url()}`); });

    await m.traffic(10);
    await page.goto(m.pageUrl, { timeout: PAGE_WAIT_MS });
    const ratingsEdge = 'path.edge[data-source="default/reviews-v2"][data-target="default/ratings-v1"]';
    await page.waitForSelector(`${ratingsEdge}.healthy`, { timeout: PAGE_WAIT_MS });
    const names = await page.locator('g.node text.name').allTextContents();
    expect(names.sort()).toEqual(['productpage-v1', 'ratings-v1', 'reviews-v1', 'reviews-v2', 'unknown']);
    expect(await page.locator(`text.label[data-source="default/reviews-v2"][data-target="default/ratings-v1"]`).textContent())
      .toMatch(/^\d+\.\d rps · 0\.0 % err · p99 \d+(\.\d)? ms$/);

    m.ratingsFails(true);
    await m.traffic(10);
    await page.waitForSelector(`${ratingsEdge}.failure`, { timeout: PAGE_WAIT_MS });
    expect(await page.locator(ratingsEdge).getAttribute('stroke')).toBe('#c9190b');
    // Red as soon as a redraw sees more than 5 % of 5xx (the share only grows while ratings keeps failing).
    const label = await page.locator(`text.label[data-source="default/reviews-v2"][data-target="default/ratings-v1"]`).textContent();
    expect(Number(/ (\d+\.\d) % err/.exec(label ?? '')?.[1])).toBeGreaterThan(5);
    expect(await page.locator('path.edge[data-source="default/productpage-v1"][data-target="default/reviews-v1"]').getAttribute('stroke')).toBe('#3e8635');
    const screenshot = process.env['MESH_GRAPH_SCREENSHOT'];
    if (screenshot) {
      const graph = (await page.locator('#graph').boundingBox())!;
      const body = (await page.locator('body').boundingBox())!;
      const size = { width: Math.ceil(graph.x + graph.width) + 16, height: Math.ceil(body.y + body.height) + 16 };
      await page.screenshot({ path: screenshot, clip: { x: 0, y: 0, ...size } });
    }
    expect(problems).toEqual([]);
  });
});
