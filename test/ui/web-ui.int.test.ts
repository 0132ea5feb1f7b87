import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepScreenshot, launchChromium } from '../helpers/browser';
import { buildTestApp, finishedLifecycle, startLifecycle } from '../helpers/lifecycle';
import { createExampleDataset, createExampleModelRepo } from '../helpers/model-repo';
import { config, startTestStack, type TestStack } from '../helpers/stack';
import { until } from '../helpers/until';

const artifacts = 'web-ui';
// The Web UI is a single-page app that loads its data after the page: wait for content, up to this long.
const contentTimeoutMs = 30_000;

/**
 * Waits until `missing` finds nothing missing in the page; otherwise keeps a screenshot and fails naming
 * what the user would not have seen.
 */
async function waitForContent(page: Page, what: string, shot: string, missing: () => Promise<string[]>): Promise<void> {
  const deadline = Date.now() + contentTimeoutMs;
  for (let absent = await missing(); absent.length > 0; absent = await missing()) {
    if (Date.now() > deadline) {
      const screenshot = await keepScreenshot(page, artifacts, `${shot}-missing.png`);
      throw new Error(
        `the Temporal Web UI at ${page.url()} never showed ${what}; ` +
          `missing: ${absent.join(', ')} (screenshot: ${screenshot})`,
      );
    }
    await page.waitForTimeout(250);
  }
}

/** The workflow IDs a workflow list page links to, decoded from the rows' links. */
async function listedWorkflowIds(page: Page): Promise<string[]> {
  const hrefs = await page
    .locator('a[href*="/workflows/"]')
    .evaluateAll((links) => links.map((a) => a.getAttribute('href') ?? ''));
  const ids = hrefs
    .map((h) => /\/workflows\/([^/?]+)\/[^/?]+\/[a-z-]+$/.exec(h)?.[1])
    .filter((id): id is string => id !== undefined && id !== 'start-workflow')
    .map((id) => decodeURIComponent(id));
  return [...new Set(ids)].sort();
}

describe('the Temporal Web UI shows a lifecycle with its search attributes in headless Chromium', () => {
  let stack: TestStack;
  let app: FastifyInstance;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startTestStack('web-ui');
    app = await buildTestApp(stack);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await stack?.stop();
  });

  it('MloopModel="<model>" lists the lifecycle and its train child; its page shows its three attributes', async () => {
    const repo = await createExampleModelRepo();
    const dataset = await createExampleDataset(300, 5);
    const model = `pm-ui-${randomUUID().slice(0, 8)}`;
    const id = await startLifecycle(app, {
      model,
      repo: { url: repo.url, ref: 'main', path: repo.path },
      dataset: { path: dataset },
    });
    const done = await finishedLifecycle<{ version: number }>(app, stack, id);
    expect(done.status, done.error).toBe('COMPLETED');
    const { runId } = await stack.client.workflow.getHandle(id).describe();

    // Visibility is eventually consistent: the UI queries the same index, so wait for it to settle first.
    const query = `MloopModel="${model}"`;
    await until('the lifecycle with its final stage in visibility', async () => {
      let settled = false;
      for await (const w of stack.client.workflow.list({ query: `${query} AND MloopStage="done"` })) {
        settled ||= w.workflowId === id;
      }
      return settled || undefined;
    });

    const ui = config.temporalUiUrl;
    const namespace = encodeURIComponent(config.temporalNamespace);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });

    await page.goto(`${ui}/namespaces/${namespace}/workflows?query=${encodeURIComponent(query)}`);
    const expected = [id, `${id}/train`].sort();
    await waitForContent(
      page,
      `the lifecycle and its train child in the list filtered by ${query}`,
      'list',
      async () => {
        const ids = await listedWorkflowIds(page);
        return expected.filter((e) => !ids.includes(e));
      },
    );
    expect(await listedWorkflowIds(page)).toEqual(expected);
    const list = await keepScreenshot(page, artifacts, 'workflow-list.png');

    await page.goto(`${ui}/namespaces/${namespace}/workflows/${encodeURIComponent(id)}/${runId}/history`);
    const tab = page.getByRole('tab', { name: 'Search Attributes', exact: true });
    await waitForContent(page, 'the lifecycle page', 'lifecycle', async () =>
      (await tab.isVisible()) ? [] : ['its Search Attributes tab'],
    );
    await tab.click();
    const attributes = { MloopModel: `"${model}"`, MloopStage: '"done"', MloopVersion: String(done.version) };
    const shown = Object.entries(attributes).map(([name, value]) => `"${name}": ${value}`);
    await waitForContent(page, "the lifecycle's search attributes", 'search-attributes', async () => {
      const text = await page.locator('main').innerText();
      return shown.filter((s) => !text.includes(s));
    });
    const details = await keepScreenshot(page, artifacts, 'lifecycle-search-attributes.png');

    for (const screenshot of [list, details]) expect((await fs.stat(screenshot)).size).toBeGreaterThan(10_000);
    console.log(`Web UI screenshots: ${list}, ${details}`);
  });
});
