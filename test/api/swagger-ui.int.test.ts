import fs from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../api/app';
import type { Registry } from '../../core/registry/registry';
import { testAuth } from '../helpers/auth';
import { keepScreenshot, launchChromium } from '../helpers/browser';
import { recordingTemporal } from '../helpers/recording-temporal';
import { openTestRegistry } from '../helpers/registry';

describe('Swagger UI at /docs in headless Chromium', () => {
  let browser: Browser;
  let registry: Registry;
  let app: FastifyInstance;
  let origin: string;

  beforeAll(async () => {
    registry = await openTestRegistry('swagger-ui');
    app = await buildApp({
      temporal: recordingTemporal().client,
      registry,
      namespace: 'default',
      webUiUrl: 'http://127.0.0.1:8233',
      auth: testAuth,
    });
    origin = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await registry?.close();
  });

  it('shows every documented operation, loading everything from the API itself', async () => {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${origin}/docs`);
    await page.locator('.opblock').first().waitFor({ timeout: 30_000 });

    const documented = app.routeAccess.filter((r) => r.method !== 'HEAD' && !r.schema?.hide);
    expect(await page.locator('.opblock').count()).toBe(documented.length);
    await expect(page.locator('.info .title').textContent()).resolves.toContain('mloop API');
    expect(await page.locator('button.authorize').count()).toBe(1);
    expect(errors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('data:'))).toEqual([]);

    const screenshot = await keepScreenshot(page, 'swagger-ui', 'swagger-ui.png');
    expect((await fs.stat(screenshot)).size).toBeGreaterThan(10_000);
    console.log(`Swagger UI screenshot: ${screenshot}`);
  });
});
