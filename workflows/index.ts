export { modelLifecycle } from './model-lifecycle';
export { trainModel } from './train-model';
export { shadowTest } from './shadow-test';
export { deployModel } from './deploy-model';
export { retireDeployment } from './retire-deployment';
export { driftCheck } from './drift-check';
export { pipeline } from './pipeline';
