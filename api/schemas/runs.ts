import { Type, type Static } from '@sinclair/typebox';

export const CompareRunsQuery = Type.Object(
  { ids: Type.String({ minLength: 1, maxLength: 8192, description: 'Run IDs separated by commas, at least two' }) },
  { additionalProperties: false },
);
export type CompareRunsQuery = Static<typeof CompareRunsQuery>;
