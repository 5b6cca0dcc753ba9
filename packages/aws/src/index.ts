/**
 * @since 0.1.0
 */
export * as AwsClient from "./AwsClient.js"
export * as AwsError from "./AwsError.js"
export * as AwsSdk from "./AwsSdk.js"
export * as LoopbackHandler from "./LoopbackHandler.js"
