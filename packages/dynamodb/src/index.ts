/**
 * @since 0.1.0
 */
export * as DynamoDBClient from "./DynamoDBClient.js"
export * as DynamoDBError from "./DynamoDBError.js"
export * as DynamoDBLeaseStore from "./DynamoDBLeaseStore.js"
export * as LeaseTable from "./LeaseTable.js"
