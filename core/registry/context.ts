import type { Kysely, Transaction } from 'kysely';
import type { RegistryDatabase } from './schema';

/** What every registry operation needs: the database and the clock that stamps its writes. */
export interface RegistryContext {
  db: Kysely<RegistryDatabase>;
  now: () => Date;
}

/** A query target: the database itself or an open transaction on it. */
export type Queryable = Kysely<RegistryDatabase> | Transaction<RegistryDatabase>;

export const parseJson = <T>(text: string): T => JSON.parse(text) as T;
