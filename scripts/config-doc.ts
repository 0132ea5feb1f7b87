/** Writes docs/CONFIGURATION.md from the configuration schema (`npm run docs:config`). */
import fs from 'node:fs';
import path from 'node:path';
import { renderConfigReference } from '../core/config/reference';

const target = path.resolve(import.meta.dirname, '..', 'docs', 'CONFIGURATION.md');
fs.writeFileSync(target, renderConfigReference());
console.log(`wrote ${path.relative(process.cwd(), target)}`);
