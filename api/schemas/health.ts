import { Type } from '@sinclair/typebox';
import { responses } from './errors';

export const healthSchema = {
  summary: 'The API process is up',
  tags: ['health'],
  querystring: Type.Object({}, { additionalProperties: false }),
  response: responses({ 200: Type.Object({ ok: Type.Literal(true) }) }, { public: true }),
};
