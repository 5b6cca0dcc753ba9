import * as LocalDynamoDB from "@tributary/local/LocalDynamoDB"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as DynamoDBClient from "../src/DynamoDBClient.js"

/** The DynamoDB client service over a local emulator's client settings. */
export const clientFromLocal: Layer.Layer<DynamoDBClient.DynamoDBClient, never, LocalDynamoDB.LocalDynamoDB> = Layer
  .unwrapEffect(Effect.map(LocalDynamoDB.LocalDynamoDB, (local) => DynamoDBClient.layer({ ...local.clientConfig })))

/** dynalite embedded, and the client service talking to it. */
export const dynalite = clientFromLocal.pipe(Layer.provideMerge(LocalDynamoDB.layerDynalite()))

let tables = 0
/** A fresh table name per test. */
export const tableName = (prefix = "leases") => `${prefix}-${process.pid}-${++tables}`
