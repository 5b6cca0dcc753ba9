/**
 * Seed-shaped traffic: customer activity messages in mixed formats (JSON, CSV, key-value text, XML), a few
 * of them broken on purpose. Used by the demo and by `tributary produce`.
 *
 * @since 0.1.0
 */


/** @since 0.1.0 */
export const activities = ["login", "search", "view", "add-to-cart", "checkout", "logout"]

/** @since 0.1.0 */
export interface Message {
  readonly partitionKey: string
  readonly data: string
  readonly broken: boolean
}

/**
 * Message `i`: seed-shaped, a quarter each JSON, CSV, key-value text and XML; about 1% broken.
 *
 * @since 0.1.0
 */
export const message = (i: number, now: number): Message => {
  const customer = `C${(i * 7919) % 1000}`
  const activity = activities[(i * 31) % activities.length]
  const duration = 20 + ((i * 104_729) % 1980)
  const partitionKey = `${customer}-${i % 64}`
  if (i % 100 === 37) {
    // broken, each differently and uniquely (the index is in it): a dead letter
    const data = i % 400 === 37
      ? `{"CustomerId":"${customer}","DateUnixMs":${now},"Activity":"${activity}","DurationMs":"slow-${i}"}`
      : i % 400 === 137
      ? `CustomerId,DateUnixMs,Activity,DurationMs\n${customer},yesterday-${i},${activity},${duration}`
      : i % 400 === 237
      ? `customer=${customer}\nts=${now}\nactivity=${activity}\nduration_ms=n/a-${i}`
      : `<activity><CustomerId>${customer}</CustomerId><DateUnixMs>${now}</DateUnixMs><Activity>${i}</Activity>`
    return { partitionKey, data, broken: true }
  }
  const data = i % 4 === 0
    ? JSON.stringify({ CustomerId: customer, DateUnixMs: now, Activity: activity, DurationMs: duration })
    : i % 4 === 1
    ? `CustomerId,DateUnixMs,Activity,DurationMs\n${customer},${now},${activity},${duration}`
    : i % 4 === 2
    ? `customer=${customer}\nts=${now}\nactivity=${activity}\nduration_ms=${duration}`
    : `<activity><CustomerId>${customer}</CustomerId><DateUnixMs>${now}</DateUnixMs>` +
      `<Activity>${activity}</Activity><DurationMs>${duration}</DurationMs></activity>`
  return { partitionKey, data, broken: false }
}
