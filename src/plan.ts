// Running plans (see Plan in backend.ts): the same generator drives a synchronous call, where each
// kernel runs at once, and an asynchronous one, where each kernel runs on a background thread and
// the JavaScript thread stays free. Layers and optimizers write their semantics once, as plans.
import type { Backend, KernelCall, Plan } from './backend.js';
import { noteWrites } from './table-writes.js';

function call(backend: Backend, kernelCall: KernelCall): number {
  noteWrites(kernelCall);
  const [name, args] = kernelCall;
  return (backend[name] as (...a: unknown[]) => number)(...args);
}

// A kernel that throws leaves its plan suspended: the plan is closed (its finally blocks run, so
// whatever it holds is released) before the error goes on.

export function runPlan<T>(backend: Backend, plan: Plan<T>): T {
  let step = plan.next();
  while (!step.done) {
    let result: number;
    try {
      result = call(backend, step.value);
    } catch (error) {
      plan.return(undefined as T);
      throw error;
    }
    step = plan.next(result);
  }
  return step.value;
}

export async function runPlanAsync<T>(backend: Backend, plan: Plan<T>): Promise<T> {
  let step = plan.next();
  while (!step.done) {
    let result: number;
    try {
      noteWrites(step.value);
      result = await backend.callAsync(step.value);
    } catch (error) {
      plan.return(undefined as T);
      throw error;
    }
    step = plan.next(result);
  }
  return step.value;
}

/**
 * The guard that keeps a synchronous call from racing an unfinished asynchronous one on the same
 * object: any number of asynchronous readers, or one writer. A call that conflicts throws.
 */
export class AsyncAccess {
  private _readers = 0;
  private _writer = false;

  constructor(readonly what: string) {}

  check(where: string, access: 'read' | 'write'): void {
    if (this._writer || (access === 'write' && this._readers > 0)) {
      throw new Error(
        `${where}: this ${this.what} is in use by an unfinished async call that ${this._writer ? 'changes it' : 'reads it'}; await it first`,
      );
    }
  }

  acquire(access: 'read' | 'write'): () => void {
    if (access === 'write') this._writer = true;
    else this._readers += 1;
    return () => {
      if (access === 'write') this._writer = false;
      else this._readers -= 1;
    };
  }
}
