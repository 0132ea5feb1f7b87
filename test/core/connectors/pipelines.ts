import type { FieldSchema } from '../../../core/pipeline/fields';
import type { PipelineSpec, SinkSpec, SourceSpec } from '../../../core/pipeline/spec';
import type { ValidatedPipeline } from '../../../core/pipeline/validate';
import { setUpPipeline } from '../pipeline/streams';

/**
 * A pipeline around one connector: topic `<prefix>.data` (3 partitions) with `fields`, read
 * or written by the connector, and one pass-through transform so the spec is complete.
 */
export async function connectorPipeline(
  prefix: string,
  fields: FieldSchema,
  connector: {
    source?: { name: string; kind: string; [k: string]: unknown };
    sink?: { name: string; kind: string; [k: string]: unknown };
  },
): Promise<ValidatedPipeline> {
  const data = `${prefix}.data`;
  const spec: PipelineSpec = {
    name: prefix,
    topics: [
      { name: data, partitions: 3, fields, ...(connector.source ? {} : { external: true }) },
      { name: `${prefix}.copy`, partitions: 1 },
    ],
    transforms: [{ name: 'copy', kind: 'filter', input: data, output: `${prefix}.copy`, where: 'true' }],
    ...(connector.source ? { sources: [{ ...connector.source, topic: data } as SourceSpec] } : {}),
    ...(connector.sink ? { sinks: [{ ...connector.sink, topic: data } as SinkSpec] } : {}),
  };
  return setUpPipeline(spec);
}
