/** A model whose training takes minutes and prints a line per epoch: for progress and cancellation tests. */
export const slowTrainPy = `import time
from sklearn.dummy import DummyClassifier


def train(X, y, params):
    for epoch in range(1, 601):
        print(f"epoch {epoch}", flush=True)
        time.sleep(0.2)
    return DummyClassifier().fit(X, y)
`;
