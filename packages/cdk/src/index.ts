/**
 * AWS CDK constructs for Tributary. Unlike the other packages, whose modules are namespaces, this one
 * exports its constructs as classes, as CDK construct libraries do.
 *
 * @since 0.1.0
 */
export * from "./ArchiveBucket.js"
export * from "./DataStream.js"
export * from "./Deployment.js"
export * from "./LambdaConsumer.js"
export * from "./Monitoring.js"
export * as Permissions from "./Permissions.js"
export * from "./Tables.js"
export * from "./WorkerRole.js"
