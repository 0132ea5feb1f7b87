/**
 * Writes docs/schemas/lifecycle.schema.json, the published JSON Schema of a lifecycle request
 * (the body of POST /v1/lifecycles, and the file of `mloop lifecycle start -f`), from the API's
 * TypeBox schema. `npx tsx scripts/lifecycle-schema.ts` after changing api/schemas/lifecycle.ts;
 * test/cli/lifecycle-schema.test.ts fails while the file is out of date.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StartLifecycleBody } from '../api/schemas/lifecycle';

export const lifecycleSchemaFile = path.resolve(import.meta.dirname, '../docs/schemas/lifecycle.schema.json');

/** The schema document's text: TypeBox's JSON with the meta-schema and a title, stable key order. */
export function lifecycleSchemaText(): string {
  const doc = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://mloop.dev/schemas/lifecycle.schema.json',
    title: 'mloop lifecycle request',
    description: 'The body of POST /v1/lifecycles, and the file `mloop lifecycle start -f` reads (YAML or JSON).',
    ...(JSON.parse(JSON.stringify(StartLifecycleBody)) as object),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  fs.writeFileSync(lifecycleSchemaFile, lifecycleSchemaText());
  console.log(`wrote ${path.relative(process.cwd(), lifecycleSchemaFile)}`);
}
