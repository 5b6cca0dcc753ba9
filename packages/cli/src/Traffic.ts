/**
 * Seed-shaped traffic: customer activity messages in mixed formats (JSON, CSV, key-value text, XML), a few
 * of them broken on purpose. Used by the demo and by `tributary produce`.
 *
 * @since 0.1.0
 */


/**
 * The activity names messages carry, chosen by the message's index.
 *
 * @since 0.1.0
 */
export const activities = ["login", "search", "view", "add-to-cart", "checkout", "logout"]

/** Typical duration of each activity, in milliseconds: a checkout takes longer than a logout. */
const typicalDuration: Readonly<Record<string, number>> = {
  login: 300,
  search: 450,
  view: 150,
  "add-to-cart": 250,
  checkout: 900,
  logout: 80
}

/**
 * Customers: `C0` to `C99`.
 *
 * @since 0.1.0
 */
export const customers = 100

/**
 * One message to put on the stream.
 *
 * @since 0.1.0
 */
export interface Message {
  /** The Kinesis partition key: the customer and one of 64 suffixes, spreading a customer over shards. */
  readonly partitionKey: string
  /** The record's text, as JSON, CSV (with a header line), key-value lines or XML. */
  readonly data: string
  /** Whether the message is broken on purpose, so that it must end up as a dead letter. */
  readonly broken: boolean
}

/**
 * Options of `message`.
 *
 * @since 0.1.0
 */
export interface MessageOptions {
  /**
   * One message in this many is broken (message `i` when `i % brokenEvery === 37 % brokenEvery`), the
   * broken ones taking turns between the four formats; 0 for none. Default 100.
   */
  readonly brokenEvery?: number
}

/**
 * Whether message `i` is broken, one in `brokenEvery` (default 100; 0: none).
 *
 * @since 0.1.0
 */
export const isBroken = (i: number, brokenEvery = 100): boolean =>
  brokenEvery > 0 && i % brokenEvery === 37 % brokenEvery

/**
 * Message `i`: seed-shaped, a quarter each JSON, CSV, key-value text and XML; about 1% broken (see
 * `MessageOptions.brokenEvery`).
 *
 * @since 0.1.0
 */
export const message = (i: number, now: number, options: MessageOptions = {}): Message => {
  // the hundreds digit shifts the customer, so broken messages (i % 100 === 37) come from all of them
  const customer = `C${(i * 7919 + Math.floor(i / 100)) % customers}`
  const activity = activities[(i * 31) % activities.length]
  // spread around the activity's typical duration, and one in 20 four times slower: the tail a p95 shows
  const spread = 0.5 + ((i * 104_729) % 1000) / 1000
  const duration = Math.round(typicalDuration[activity] * spread * ((i * 7) % 20 === 3 ? 4 : 1))
  const partitionKey = `${customer}-${i % 64}`
  const brokenEvery = options.brokenEvery ?? 100
  if (isBroken(i, brokenEvery)) {
    // broken, each differently and uniquely (the index is in it): a dead letter; the kinds take turns
    // (with the default of 100: as i % 400 is 37, 137, 237, 337)
    const kind = Math.floor(i / brokenEvery) % 4
    const data = kind === 0
      ? `{"CustomerId":"${customer}","DateUnixMs":${now},"Activity":"${activity}","DurationMs":"slow-${i}"}`
      : kind === 1
      ? `CustomerId,DateUnixMs,Activity,DurationMs\n${customer},yesterday-${i},${activity},${duration}`
      : kind === 2
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
