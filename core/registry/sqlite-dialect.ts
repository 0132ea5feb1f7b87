import {
  CompiledQuery,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type DialectAdapter,
  type Driver,
  type QueryResult,
  type SqliteDialectConfig,
} from 'kysely';
import { MloopError } from '../errors';

/**
 * SQLite for a registry written by several processes at once (worker and API, or two workers).
 *
 * Every registry transaction writes, and most read first (the next version number, an alias's
 * current version). A deferred `BEGIN` takes the write lock only at the first write; in WAL mode
 * a reader whose snapshot is stale cannot upgrade, and SQLite fails it at once with "database is
 * locked" without waiting `busy_timeout`. `BEGIN IMMEDIATE` takes the write lock first, waiting up
 * to `busy_timeout` for it, so concurrent writers queue. Migrations run in such a transaction too
 * (SQLite's DDL is transactional), so two processes opening a new file do not both apply them.
 * A lock still held after `busy_timeout` is `Unavailable`: retryable, and a 503 at the API.
 */
export class QueuedWritersSqliteDialect extends SqliteDialect {
  constructor(
    private readonly config: SqliteDialectConfig,
    private readonly busyTimeoutMs: number,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.config, this.busyTimeoutMs);
  }

  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class ImmediateSqliteDriver extends SqliteDriver {
  constructor(
    config: SqliteDialectConfig,
    private readonly busyTimeoutMs: number,
  ) {
    super(config);
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    return new BusyMappingConnection(await super.acquireConnection(), this.busyTimeoutMs);
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class BusyMappingConnection implements DatabaseConnection {
  constructor(
    private readonly inner: DatabaseConnection,
    private readonly busyTimeoutMs: number,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    try {
      // better-sqlite3 throws synchronously: the await inside try catches both kinds.
      return await this.inner.executeQuery<R>(query);
    } catch (err) {
      throw this.mapped(err);
    }
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(query, chunkSize);
    } catch (err) {
      throw this.mapped(err);
    }
  }

  private mapped(err: unknown): unknown {
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code !== 'string' || !/^SQLITE_(BUSY|LOCKED)/.test(code)) return err;
    return new MloopError(
      'Unavailable',
      `registry is busy: another writer held its lock for more than ${this.busyTimeoutMs} ms; retry`,
      { sqliteCode: code },
    );
  }
}
