import pg from 'pg';
import type { FieldSchema, FieldType } from '../pipeline/fields';
import type { PostgresSink } from '../pipeline/spec';
import type { SinkRow, SinkWriter } from './sink-runner';

/**
 * Upserts rows into a PostgreSQL table by the sink's key, so a replayed record rewrites its
 * row instead of adding one. The table is created when missing, with a column per field and
 * the key as primary key. A server that is down or restarting makes the write throw (the
 * batch waits and is written again); a row the server refuses for its data (SQLSTATE classes
 * 22 and 23) is found by writing the batch row by row, and only it is refused.
 */
const sqlTypes: Record<FieldType, string> = {
  number: 'double precision',
  integer: 'bigint',
  string: 'text',
  boolean: 'boolean',
  any: 'jsonb',
};
const maxRowsPerStatement = 500;

export interface PostgresSinkOptions {
  connectionString: string;
  poolSize?: number;
}

const quote = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export function createPostgresSink(spec: PostgresSink, fields: FieldSchema, o: PostgresSinkOptions): SinkWriter {
  const columns = spec.columns ?? Object.keys(fields);
  const pool = new pg.Pool({
    connectionString: o.connectionString,
    max: o.poolSize ?? 4,
    connectionTimeoutMillis: 5000,
  });
  // An idle connection dies when the server restarts; the pool replaces it. Without a listener
  // the error would end the process.
  pool.on('error', () => undefined);
  let tableReady = false;

  const ensureTable = async (): Promise<void> => {
    if (tableReady) return;
    const defs = columns.map(
      (c) => `${quote(c)} ${sqlTypes[fields[c] ?? 'any']}${spec.key.includes(c) ? ' not null' : ''}`,
    );
    await pool.query(
      `create table if not exists ${quote(spec.table)} ` +
        `(${defs.join(', ')}, primary key (${spec.key.map(quote).join(', ')}))`,
    );
    tableReady = true;
  };

  const value = (row: Record<string, unknown>, c: string): unknown => {
    const v = Object.hasOwn(row, c) ? row[c] : null;
    return fields[c] === 'any' && v !== null ? JSON.stringify(v) : v;
  };

  const upsert = async (rows: SinkRow[]): Promise<void> => {
    const params: unknown[] = [];
    const tuples = rows.map(({ row }) => `(${columns.map((c) => `$${params.push(value(row, c))}`).join(', ')})`);
    const updates = columns.filter((c) => !spec.key.includes(c)).map((c) => `${quote(c)} = excluded.${quote(c)}`);
    const onConflict = updates.length > 0 ? `do update set ${updates.join(', ')}` : 'do nothing';
    const sql =
      `insert into ${quote(spec.table)} (${columns.map(quote).join(', ')}) values ${tuples.join(', ')} ` +
      `on conflict (${spec.key.map(quote).join(', ')}) ${onConflict}`;
    await pool.query(sql, params);
  };

  return {
    async write(rows) {
      await ensureTable();
      // One statement cannot update a row twice: of several records with one key, the last wins,
      // as it would have written one after the other.
      const byKey = new Map<string, SinkRow>();
      for (const r of rows) byKey.set(JSON.stringify(spec.key.map((k) => r.row[k] ?? null)), r);
      const unique = [...byKey.values()];
      const refused: Array<{ record: SinkRow['record']; reason: string }> = [];
      for (let i = 0; i < unique.length; i += maxRowsPerStatement) {
        const chunk = unique.slice(i, i + maxRowsPerStatement);
        try {
          await upsert(chunk);
        } catch (err) {
          if (!isDataError(err)) throw err;
          for (const r of chunk) {
            try {
              await upsert([r]);
            } catch (rowErr) {
              if (!isDataError(rowErr)) throw rowErr;
              refused.push({ record: r.record, reason: `PostgreSQL refused the row: ${(rowErr as Error).message}` });
            }
          }
        }
      }
      return refused;
    },
    async close() {
      await pool.end().catch(() => undefined);
    },
  };
}

function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23)/.test(code);
}
