/**
 * The key of a shard's lease in the lease table. A worker of one stream keys its leases by shard id
 * (`shardId-000000000000`), as it always did; a worker of several streams sharing one table names the
 * stream too: `<stream>:<shardId>` (`orders:shardId-000000000000`). Neither stream names nor shard ids
 * contain a colon, so a key says which it is. (The KCL's multi-stream keys are
 * `<account>:<stream>:<creationEpoch>:<shardId>`; Tributary's name streams of one account by name.)
 *
 * @since 0.1.0
 */

/**
 * What a lease key names: the shard and, for a key of a worker of several streams, the stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface ShardKey {
  /** Undefined for a key that is a shard id alone. */
  readonly stream: string | undefined
  /** The shard's id in its stream (`shardId-000000000000`). */
  readonly shardId: string
}

/**
 * The key `<stream>:<shardId>`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (stream: string, shardId: string): string => `${stream}:${shardId}`

/**
 * The stream and shard a key names (no stream for a key that is a shard id alone).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parse = (leaseKey: string): ShardKey => {
  const colon = leaseKey.indexOf(":")
  return colon === -1
    ? { stream: undefined, shardId: leaseKey }
    : { stream: leaseKey.slice(0, colon), shardId: leaseKey.slice(colon + 1) }
}

/**
 * Why a stream name cannot be part of a lease key, or undefined when it can: Kinesis stream names are 1 to
 * 128 letters, digits, `_`, `-` and `.`.
 *
 * @since 0.1.0
 * @category validation
 */
export const validateStream = (stream: string): string | undefined =>
  /^[A-Za-z0-9_.-]{1,128}$/.test(stream) ? undefined : `${JSON.stringify(stream)} is not a Kinesis stream name`
