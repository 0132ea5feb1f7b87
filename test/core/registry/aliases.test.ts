import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MloopError } from '../../../core/errors';
import type { Registry } from '../../../core/registry/registry';
import { manualClock, newVersion, openTestRegistry } from '../../helpers/registry';

describe('registry aliases (SQLite)', () => {
  const clock = manualClock();
  let registry: Registry;

  beforeAll(async () => {
    registry = await openTestRegistry('aliases', clock.now);
    for (const model of ['pm', 'moves', 'noop', 'removal', 'skew']) {
      await registry.registerVersion(newVersion(model, `${model}-1`));
      await registry.registerVersion(newVersion(model, `${model}-2`));
    }
  });
  afterAll(async () => registry.close());

  it('answers the aliases at any instant across two promotions', async () => {
    clock.set('2026-01-01T10:00:00.000Z');
    await registry.setAlias({ model: 'pm', alias: 'champion', version: 1, by: 'alice' });
    clock.set('2026-01-02T10:00:00.000Z');
    await registry.setAlias({ model: 'pm', alias: 'champion', version: 2, by: 'bob' });

    await expect(registry.aliasesAt('pm', new Date('2026-01-01T09:59:59.999Z'))).resolves.toEqual({});
    await expect(registry.aliasesAt('pm', new Date('2026-01-01T10:00:00.000Z'))).resolves.toEqual({ champion: 1 });
    await expect(registry.aliasesAt('pm', new Date('2026-01-02T09:59:59.999Z'))).resolves.toEqual({ champion: 1 });
    await expect(registry.aliasesAt('pm', new Date('2026-01-02T10:00:00.000Z'))).resolves.toEqual({ champion: 2 });
    await expect(registry.aliasesAt('pm', new Date('2027-01-01T00:00:00.000Z'))).resolves.toEqual({ champion: 2 });
    await expect(registry.getAliases('pm')).resolves.toEqual({ champion: 2 });
  });

  it('logs every move with the previous version, who and why, oldest first', async () => {
    clock.set('2026-02-01T00:00:00.000Z');
    const first = await registry.setAlias({
      model: 'moves',
      alias: 'champion',
      version: 1,
      by: 'alice',
      reason: 'first model',
    });
    clock.set('2026-02-01T00:00:01.000Z');
    await registry.setAlias({ model: 'moves', alias: 'challenger', version: 2, by: 'alice' });
    clock.set('2026-02-01T00:00:02.000Z');
    const promoted = await registry.setAlias({
      model: 'moves',
      alias: 'champion',
      version: 2,
      by: 'bob',
      reason: 'beat v1 on roc_auc',
    });

    expect(first).toMatchObject({
      changed: true,
      version: 1,
      previousVersion: null,
      at: '2026-02-01T00:00:00.000Z',
      by: 'alice',
      reason: 'first model',
    });
    expect(promoted).toMatchObject({ changed: true, alias: 'champion', version: 2, previousVersion: 1, by: 'bob' });
    const history = await registry.aliasHistory('moves');
    expect(history.map((m) => [m.alias, m.previousVersion, m.version, m.at])).toEqual([
      ['champion', null, 1, '2026-02-01T00:00:00.000Z'],
      ['challenger', null, 2, '2026-02-01T00:00:01.000Z'],
      ['champion', 1, 2, '2026-02-01T00:00:02.000Z'],
    ]);
    await expect(registry.getAliases('moves')).resolves.toEqual({ challenger: 2, champion: 2 });
  });

  it('treats pointing an alias where it already points as a no-op', async () => {
    clock.set('2026-03-01T00:00:00.000Z');
    const first = await registry.setAlias({
      model: 'noop',
      alias: 'champion',
      version: 1,
      by: 'alice',
      reason: 'initial',
    });
    clock.set('2026-03-02T00:00:00.000Z');
    const again = await registry.setAlias({ model: 'noop', alias: 'champion', version: 1, by: 'bob', reason: 'retry' });
    expect(again).toEqual({ ...first, changed: false });
    expect(await registry.aliasHistory('noop')).toHaveLength(1);
  });

  it('removes an alias, logging the removal, and keeps it in the past', async () => {
    clock.set('2026-04-01T00:00:00.000Z');
    await registry.setAlias({ model: 'removal', alias: 'staging', version: 2, by: 'alice' });
    clock.set('2026-04-02T00:00:00.000Z');
    const removed = await registry.removeAlias('removal', 'staging', 'bob', 'rolled back');
    expect(removed).toMatchObject({
      alias: 'staging',
      version: null,
      previousVersion: 2,
      by: 'bob',
      reason: 'rolled back',
      at: '2026-04-02T00:00:00.000Z',
    });
    await expect(registry.getAliases('removal')).resolves.toEqual({});
    await expect(registry.aliasesAt('removal', new Date('2026-04-01T12:00:00.000Z'))).resolves.toEqual({ staging: 2 });
    await expect(registry.aliasesAt('removal', new Date('2026-04-02T00:00:00.000Z'))).resolves.toEqual({});
    await expect(registry.removeAlias('removal', 'staging', 'bob')).rejects.toThrow(
      'model "removal" has no alias "staging"',
    );
    await expect(registry.removeAlias('nope', 'staging', 'bob')).rejects.toThrow('no model "nope"');
  });

  it('never stamps a move before the previous one, even if the clock steps back', async () => {
    clock.set('2026-05-02T00:00:00.000Z');
    await registry.setAlias({ model: 'skew', alias: 'champion', version: 1, by: 'alice' });
    clock.set('2026-05-01T00:00:00.000Z');
    const moved = await registry.setAlias({ model: 'skew', alias: 'champion', version: 2, by: 'alice' });
    expect(moved.at).toBe('2026-05-02T00:00:00.000Z');
    await expect(registry.aliasesAt('skew', new Date('2026-05-02T00:00:00.000Z'))).resolves.toEqual({ champion: 2 });
  });

  it('names the missing model and version, and the bad alias name', async () => {
    await expect(registry.setAlias({ model: 'pm', alias: 'champion', version: 9, by: 'alice' })).rejects.toThrow(
      'model "pm" has no version 9',
    );
    await expect(registry.setAlias({ model: 'nope', alias: 'champion', version: 1, by: 'alice' })).rejects.toThrow(
      'model "nope" has no version 1',
    );
    for (const alias of ['Champion', '1st', '', 'a'.repeat(33), 'prod env']) {
      const err = await registry.setAlias({ model: 'pm', alias, version: 1, by: 'alice' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MloopError);
      expect(err).toMatchObject({ code: 'InvalidInput', details: { field: 'alias' } });
    }
    await expect(registry.aliasesAt('pm', new Date('not a date'))).rejects.toThrow('at: is not a valid instant');
  });

  it('lists models with their latest version and aliases', async () => {
    const models = await registry.listModels();
    expect(models.map((m) => m.name)).toEqual(['moves', 'noop', 'pm', 'removal', 'skew']);
    expect(await registry.getModel('moves')).toMatchObject({
      name: 'moves',
      latestVersion: 2,
      aliases: { challenger: 2, champion: 2 },
    });
    expect(await registry.getModel('removal')).toMatchObject({ latestVersion: 2, aliases: {} });
    await expect(registry.getModel('nope')).rejects.toThrow('no model "nope"');
  });
});
