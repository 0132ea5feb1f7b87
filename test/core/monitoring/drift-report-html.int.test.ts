import fs from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriftRunner } from '../../../core/monitoring/drift-runner';
import { exampleRuntime, trainExampleProfile, writeSensorWindow } from '../../helpers/monitoring';
import { tempDir } from '../../helpers/stack';

// Debian's package, installed by scripts/setup.sh; playwright-core downloads no browser of its own.
const executablePath = '/usr/bin/chromium';
const flags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

/** Where screenshots are kept: the test run's artifacts folder when one is given. */
async function artifactsDir(): Promise<string> {
  const root = process.env.MLOOP_TEST_ARTIFACTS;
  const dir = root ? path.join(root, 'drift-report') : await tempDir('artifacts');
  await fs.mkdir(dir, { recursive: true });
  return dir;
}

describe('drift report page in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    await fs.access(executablePath).catch(() => {
      throw new Error(`${executablePath} is missing: run scripts/setup.sh (it installs Debian's chromium package)`);
    });
    browser = await chromium.launch({ executablePath, args: flags });
  });
  afterAll(async () => browser?.close());

  it('renders one chart per feature and output, fetching nothing', async () => {
    const dir = await tempDir('drift-html');
    const profile = await trainExampleProfile(3000);
    const current = await writeSensorWindow(path.join(dir, 'window.csv'), 2000, 5, { temperature_c: 15 });
    const runner = new DriftRunner(exampleRuntime());
    const { report, htmlFile } = await runner.check({ profile, current, outDir: path.join(dir, 'report') });

    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const pageUrl = `file://${htmlFile}`;
    await page.goto(pageUrl);

    const names = [...report.features, ...report.outputs].map((c) => c.name);
    const charts = page.locator('svg.feature-chart');
    expect(await charts.count()).toBe(names.length);
    expect(await charts.evaluateAll((svgs) => svgs.map((s) => s.getAttribute('data-feature')))).toEqual(names);
    for (const name of names) {
      const box = await page.locator(`svg.feature-chart[data-feature="${name}"]`).boundingBox();
      expect(box?.width, name).toBeGreaterThan(100);
      expect(box?.height, name).toBeGreaterThan(100);
    }
    // Bars were drawn for the features the window has.
    const bars = page.locator('svg.feature-chart[data-feature="temperature_c"] rect[fill-opacity]');
    expect(await bars.count()).toBeGreaterThan(10);
    await expect(page.locator('.card[data-column="temperature_c"] .badge').textContent()).resolves.toBe('drift');
    expect(requests).toEqual([pageUrl]);

    const screenshot = path.join(await artifactsDir(), 'drift-report.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    expect((await fs.stat(screenshot)).size).toBeGreaterThan(10_000);
    console.log(`drift report screenshot: ${screenshot}`);
  });
});
