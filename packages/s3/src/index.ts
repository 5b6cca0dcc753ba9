/**
 * @since 0.1.0
 */
export * as S3Client from "./S3Client.js"
export * as S3Error from "./S3Error.js"
export * as S3ObjectStore from "./S3ObjectStore.js"
