import { Type, type Static } from '@sinclair/typebox';

export const CompareRunsQuery = Type.Object(
  { ids: Type.String({ minLength: 1, maxLength: 8192, description: 'Run IDs separated by commas, at least two' }) },
  { additionalProperties: false },
);
export type CompareRunsQuery = Static<typeof CompareRunsQuery>;

export const RunParams = Type.Object({
  id: Type.String({
    pattern: '^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,511}$',
    description: 'The run ID, URL-encoded: lifecycle/<model>/<key>/train/<run>',
  }),
});
export type RunParams = Static<typeof RunParams>;
