/**
 * A sleep that another event can cut short: background loops (anchorer,
 * indexer) wait for their poll interval but wake at once when new records
 * arrive or when they are asked to stop. A wake that comes while the loop is
 * busy is remembered, so the next sleep returns at once instead of missing it.
 */
export class WakeableSleep {
  private wakeCurrent?: () => void;
  private wokenWhileBusy = false;

  sleep(ms: number): Promise<void> {
    if (this.wokenWhileBusy) {
      this.wokenWhileBusy = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeCurrent = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeCurrent = done;
    });
  }

  /** Ends the current sleep, or the next one if none is under way. */
  wake(): void {
    if (this.wakeCurrent) this.wakeCurrent();
    else this.wokenWhileBusy = true;
  }
}
