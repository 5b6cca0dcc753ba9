/**
 * A shard's checkpoint that failed: a lease lost to another worker (the shard is theirs now, nothing to
 * retry) or a lease store error, as the pipeline's `CheckpointError`.
 */
import type * as Pipeline from "@tributary/core/Pipeline"
import type { LeaseLost, LeaseStoreError } from "@tributary/core/LeaseStore"
import { CheckpointError } from "@tributary/core/TributaryError"

export const isLeaseLost = (error: Pipeline.PipelineError): boolean =>
  error._tag === "CheckpointError" && (error.cause as { readonly _tag?: unknown } | undefined)?._tag === "LeaseLost"

export const toCheckpointError = (shardId: string, error: LeaseLost | LeaseStoreError): CheckpointError =>
  error._tag === "LeaseLost"
    ? new CheckpointError({
      shardId,
      reason: `the lease was lost (${error.operation} expected counter ${error.expectedCounter}): another worker owns the shard`,
      retryability: "permanent",
      cause: error
    })
    : new CheckpointError({ shardId, reason: error.reason, retryability: error.retryability, cause: error })
