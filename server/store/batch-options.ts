/**
 * Options for array `batch()` writes, with `sync` on the prototype. abstract-level
 * copies a batch's own option properties into every operation, which made a synced
 * batch cost ~20 µs more per operation (measured; classic-level 3, abstract-level 3),
 * while classic-level reads `sync` through the prototype chain (strace: one fdatasync
 * per batch). Only for batch(): put() and del() clone their options and would drop it
 * (use SYNCED from ./database there). No imports: the tree store, bundled into the
 * browser console, uses it too.
 */
export const SYNCED_BATCH: { readonly sync?: boolean } = Object.freeze(Object.create(Object.freeze({ sync: true })));
export const UNSYNCED_BATCH: { readonly sync?: boolean } = Object.freeze(Object.create(Object.freeze({ sync: false })));
