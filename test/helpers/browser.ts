import fs from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { tempDir } from './stack';

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

/** Headless Debian Chromium, or a clear error when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  await fs.access(executablePath).catch(() => {
    throw new Error(`${executablePath} is missing: run scripts/setup.sh (it installs Debian's chromium package)`);
  });
  return chromium.launch({ executablePath, args: flags });
}

// One temporary folder per name and process, so that a test's screenshots stay together without the variable.
const temporary = new Map<string, Promise<string>>();

/** Where one test's screenshots are kept: `$MLOOP_TEST_ARTIFACTS/<name>` when given, else a temporary folder. */
export async function artifactsDir(name: string): Promise<string> {
  const root = process.env.MLOOP_TEST_ARTIFACTS;
  if (!root) {
    let dir = temporary.get(name);
    if (!dir) temporary.set(name, (dir = tempDir(`artifacts-${name}`)));
    return dir;
  }
  const dir = path.join(root, name);
  await fs.mkdir(dir, { recursive: true });
  return dir;
}

/** Saves a full-page screenshot under the test's artifacts folder and returns its path. */
export async function keepScreenshot(page: Page, name: string, file: string): Promise<string> {
  const screenshot = path.join(await artifactsDir(name), file);
  await page.screenshot({ path: screenshot, fullPage: true });
  return screenshot;
}
