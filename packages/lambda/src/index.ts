/**
 * @since 0.1.0
 */
export * as DynamoDBStreamEvent from "./DynamoDBStreamEvent.js"
export * as KinesisEvent from "./KinesisEvent.js"
export * as Lambda from "./Lambda.js"
export * as LocalRunner from "./LocalRunner.js"
