/**
 * @since 0.1.0
 */
export * as AwsSdk from "./AwsSdk.js"
