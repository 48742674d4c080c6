// Running plans (see Plan in backend.ts): the same generator drives a synchronous call, where each
// kernel runs at once, and an asynchronous one, where each kernel runs on a background thread and
// the JavaScript thread stays free. Layers and optimizers write their semantics once, as plans.
import type { Backend, KernelCall, Plan } from './backend.js';

function call(backend: Backend, [name, args]: KernelCall): number {
  return (backend[name] as (...a: unknown[]) => number)(...args);
}

export function runPlan<T>(backend: Backend, plan: Plan<T>): T {
  let step = plan.next();
  while (!step.done) step = plan.next(call(backend, step.value));
  return step.value;
}

export async function runPlanAsync<T>(backend: Backend, plan: Plan<T>): Promise<T> {
  let step = plan.next();
  while (!step.done) step = plan.next(await backend.callAsync(step.value));
  return step.value;
}

/**
 * The guard that keeps a synchronous call from racing an unfinished asynchronous one on the same
 * object: any number of asynchronous readers, or one writer. A call that conflicts throws.
 */
export class AsyncAccess {
  #readers = 0;
  #writer = false;

  constructor(readonly what: string) {}

  check(where: string, access: 'read' | 'write'): void {
    if (this.#writer || (access === 'write' && this.#readers > 0)) {
      throw new Error(
        `${where}: this ${this.what} is in use by an unfinished async call that ${this.#writer ? 'changes it' : 'reads it'}; await it first`,
      );
    }
  }

  acquire(access: 'read' | 'write'): () => void {
    if (access === 'write') this.#writer = true;
    else this.#readers += 1;
    return () => {
      if (access === 'write') this.#writer = false;
      else this.#readers -= 1;
    };
  }
}
