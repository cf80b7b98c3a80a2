import { withDeadline } from "./wait.js";

/**
 * Values a test client received, in order, and a way to wait for the next one (the SDK
 * devices' answers, streams and callbacks).
 */
export class Inbox<T> {
  readonly items: T[] = [];
  #read = 0;
  #waiters: (() => void)[] = [];

  push(item: T): void {
    this.items.push(item);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** The next item not yet read, waiting for it up to `timeoutMs`. */
  async next(what: string, timeoutMs = 10_000): Promise<T> {
    const arrived = async (): Promise<T> => {
      while (this.#read >= this.items.length)
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      return this.items[this.#read++] as T;
    };
    return withDeadline(arrived(), timeoutMs, () => `no ${what} within ${timeoutMs} ms`);
  }

  /** Items not read yet. */
  get unread(): number {
    return this.items.length - this.#read;
  }
}
