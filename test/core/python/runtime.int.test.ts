import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PythonRuntime } from '../../../core/python/runtime';
import { createExampleDataset } from '../../helpers/model-repo';
import { slowTrainPy } from '../../helpers/slow-model';
import { config, tempDir } from '../../helpers/stack';
import { processesMentioning } from '../../helpers/processes';

const exampleModel = path.resolve(import.meta.dirname, '../../../examples/predictive-maintenance/model');

/** A slow model in a folder the runner account can read in place, so its command line names it. */
async function slowModelDir(): Promise<string> {
  const parent = await tempDir('slow-model');
  await fs.chmod(parent, 0o755);
  const dir = path.join(parent, 'model');
  await fs.cp(exampleModel, dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'train.py'), slowTrainPy);
  return dir;
}

describe('Python runtime process control (real Python)', () => {
  const runtime = new PythonRuntime({ python: config.pythonExecutable, runtimeDir: config.runtimeDir });

  it('stops training that exceeds its timeout, and leaves no process or output behind', async () => {
    const modelDir = await slowModelDir();
    const outDir = path.join(path.dirname(modelDir), 'out');
    const lines: string[] = [];
    const started = Date.now();
    await expect(
      runtime.train(
        { modelDir, dataset: await createExampleDataset(100), outDir, seed: 0, holdoutFraction: 0.2 },
        // Long enough for the runtime to start and import scikit-learn on a loaded machine; the training
        // itself would run for two minutes.
        { timeoutMs: 25_000, onEvent: (e) => e.event === 'log' && lines.push(e.line) },
      ),
    ).rejects.toThrow('exceeded its timeout of 25 s');
    expect(Date.now() - started).toBeLessThan(35_000);
    expect(lines).toContain('epoch 1');
    expect(processesMentioning(modelDir)).toBe('');
    await expect(fs.stat(outDir)).rejects.toThrow();
  });

  it('stops training when its abort signal fires', async () => {
    const modelDir = await slowModelDir();
    const controller = new AbortController();
    const run = runtime.train(
      {
        modelDir,
        dataset: await createExampleDataset(100),
        outDir: path.join(path.dirname(modelDir), 'out'),
        seed: 0,
        holdoutFraction: 0.2,
      },
      { signal: controller.signal, onEvent: (e) => e.event === 'log' && e.line === 'epoch 2' && controller.abort() },
    );
    await expect(run).rejects.toThrow('cancelled');
    expect(processesMentioning(modelDir)).toBe('');
  });
});
