import { DefaultLogger, Runtime } from '@temporalio/worker';

// Worker state changes and expected activity failures are INFO/WARN noise in test output;
// errors still show.
Runtime.install({ logger: new DefaultLogger('ERROR') });
