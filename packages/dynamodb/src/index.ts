/**
 * @since 0.1.0
 */
export * as ChangeRecord from "./ChangeRecord.js"
export * as DynamoDBClient from "./DynamoDBClient.js"
export * as DynamoDBDeadLetters from "./DynamoDBDeadLetters.js"
export * as DynamoDBError from "./DynamoDBError.js"
export * as DynamoDBLeaseStore from "./DynamoDBLeaseStore.js"
export * as DynamoDBRunLog from "./DynamoDBRunLog.js"
export * as ItemSink from "./ItemSink.js"
export * as LeaseTable from "./LeaseTable.js"
export * as ResultsTable from "./ResultsTable.js"
export * as TableStream from "./TableStream.js"
