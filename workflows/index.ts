export { modelLifecycle } from './model-lifecycle';
export { trainModel } from './train-model';
