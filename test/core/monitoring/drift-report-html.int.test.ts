import fs from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriftRunner } from '../../../core/monitoring/drift-runner';
import { keepScreenshot, launchChromium } from '../../helpers/browser';
import { exampleRuntime, trainExampleProfile, writeSensorWindow } from '../../helpers/monitoring';
import { tempDir } from '../../helpers/stack';

describe('drift report page in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
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

    const screenshot = await keepScreenshot(page, 'drift-report', 'drift-report.png');
    expect((await fs.stat(screenshot)).size).toBeGreaterThan(10_000);
    console.log(`drift report screenshot: ${screenshot}`);
  });
});
