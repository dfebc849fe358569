/**
 * `work`'s outcome, or a rejection with the reason of the first of `signals`
 * to fire. It listens to each signal only until it settles: unlike
 * `Promise.race` with a promise that lives as long as the handler, it leaves
 * nothing behind on a long-lived signal (each race would keep a reaction,
 * and with it the value it settled with, for the signal's whole life).
 */
export function untilAborted<T>(work: Promise<T>, ...signals: AbortSignal[]): Promise<T> {
  for (const signal of signals) if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = function (this: AbortSignal) {
      stopListening();
      reject(this.reason);
    };
    const stopListening = () => {
      for (const signal of signals) signal.removeEventListener('abort', onAbort);
    };
    for (const signal of signals) signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        stopListening();
        resolve(value);
      },
      (error: unknown) => {
        stopListening();
        reject(error);
      },
    );
  });
}
