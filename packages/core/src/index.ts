/**
 * @since 0.1.0
 */
export * as Aggregate from "./Aggregate.js"
export * as Archive from "./Archive.js"
export * as DeadLetter from "./DeadLetter.js"
export * as Decoder from "./Decoder.js"
export * as Job from "./Job.js"
export * as LeaseCoordinator from "./LeaseCoordinator.js"
export * as LeaseStore from "./LeaseStore.js"
export * as MemoryStream from "./MemoryStream.js"
export * as Pipeline from "./Pipeline.js"
export * as RecordSink from "./RecordSink.js"
export * as RecordSource from "./RecordSource.js"
export * as Retry from "./Retry.js"
export * as SequenceNumber from "./SequenceNumber.js"
export * as SourceRecord from "./SourceRecord.js"
export * as TributaryError from "./TributaryError.js"
export * as Window from "./Window.js"
