import os from 'node:os';
import { DefaultLogger, Runtime } from '@temporalio/worker';

// Tests keep their model repositories and datasets in the system's temporary folder.
process.env.MLOOP_ALLOWED_ROOTS ??= os.tmpdir();

// Worker state changes and expected activity failures are INFO/WARN noise in test output;
// errors still show.
Runtime.install({ logger: new DefaultLogger('ERROR') });
