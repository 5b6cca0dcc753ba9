/**
 * @since 0.1.0
 */
export * as Aggregation from "./Aggregation.js"
export * as DeadLetterStream from "./DeadLetterStream.js"
export * as FanOutReader from "./FanOutReader.js"
export * as Kinesis from "./Kinesis.js"
export * as KinesisError from "./KinesisError.js"
export * as Metrics from "./Metrics.js"
export * as Producer from "./Producer.js"
export * as ShardReader from "./ShardReader.js"
export * as StreamAdmin from "./StreamAdmin.js"
export * as StreamConsumer from "./StreamConsumer.js"
export * as StreamSource from "./StreamSource.js"
