import * as LeaseStoreContract from "@tributary/core/test-utils/LeaseStoreContract"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as DynamoDBLeaseStore from "../src/DynamoDBLeaseStore.js"
import { dynalite, tableName } from "./helpers.js"

// A new table for every test (the contract wants an empty store), small Scan pages so listing pages.
const store = Layer.unwrapEffect(Effect.sync(() => DynamoDBLeaseStore.layer({ tableName: tableName(), scanPageSize: 25 })))

LeaseStoreContract.run("DynamoDB (dynalite)", store, { shared: dynalite })
