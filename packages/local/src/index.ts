/**
 * @since 0.1.0
 */
export * as ClientConfig from "./ClientConfig.js"
export * as Environment from "./Environment.js"
export * as FaultProxy from "./FaultProxy.js"
export * as Http2Proxy from "./Http2Proxy.js"
export * as LocalAwsError from "./LocalAwsError.js"
export * as LocalDynamoDB from "./LocalDynamoDB.js"
export * as LocalKinesis from "./LocalKinesis.js"
export * as LocalS3 from "./LocalS3.js"
