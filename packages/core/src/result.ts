/**
 * The outcome of every fallible core function. A plain discriminated union rather
 * than an Effect `Either`: the core runs on the per-message hot path, has no
 * dependencies, and callers in Effect code lift it with one `if`.
 */
export type Result<T, E> = Ok<T> | Err<E>;

export interface Ok<T> {
  readonly ok: true;
  readonly value: T;
}

export interface Err<E> {
  readonly ok: false;
  readonly error: E;
}

export const ok = <T>(value: T): Ok<T> => ({ ok: true, value });
export const err = <E>(error: E): Err<E> => ({ ok: false, error });
