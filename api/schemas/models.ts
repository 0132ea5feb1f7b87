import { Type, type Static } from '@sinclair/typebox';
import { aliasPattern } from '../../core/registry/registry';
import { modelNamePattern } from './lifecycle';

const modelName = Type.String({ pattern: modelNamePattern, description: 'Model name' });
const aliasName = Type.String({ pattern: aliasPattern.source, description: 'Alias name, e.g. "champion"' });
// Path parameters arrive as text and the app does not coerce types, so versions are digit strings.
const versionNumber = Type.String({ pattern: '^[1-9][0-9]{0,8}$', description: 'Version number, from 1' });
const reason = Type.String({ minLength: 1, maxLength: 1000, description: 'Why, for the alias history' });

export const ModelParams = Type.Object({ name: modelName });
export type ModelParams = Static<typeof ModelParams>;

export const VersionParams = Type.Object({ name: modelName, version: versionNumber });
export type VersionParams = Static<typeof VersionParams>;

export const AliasParams = Type.Object({ name: modelName, alias: aliasName });
export type AliasParams = Static<typeof AliasParams>;

export const SetAliasBody = Type.Object(
  {
    version: Type.Integer({ minimum: 1, description: 'The version the alias should point at' }),
    reason: Type.Optional(reason),
  },
  { additionalProperties: false },
);
export type SetAliasBody = Static<typeof SetAliasBody>;

export const RemoveAliasQuery = Type.Object({ reason: Type.Optional(reason) }, { additionalProperties: false });
export type RemoveAliasQuery = Static<typeof RemoveAliasQuery>;

export const HistoryQuery = Type.Object(
  {
    at: Type.Optional(
      Type.String({
        format: 'date-time',
        description: 'An ISO-8601 instant with a time zone: the aliases as they stood then',
      }),
    ),
  },
  { additionalProperties: false },
);
export type HistoryQuery = Static<typeof HistoryQuery>;
