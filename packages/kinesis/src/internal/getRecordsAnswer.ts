/**
 * GetRecords answers read straight into the SDK's output shape, without the SDK's generic deserializer.
 *
 * The SDK reads every JSON answer by walking the operation's schema member by member, which on a page of
 * 100 records costs about three times a plain parse of the same page (measured: 220 µs against 60 µs once
 * warm, 640 µs against 90 µs in a fresh process). GetRecords is the call a reader makes for every page, so a
 * client made by this package reads its successful answers here, into the same `GetRecordsOutput`: the same
 * members, `Data` as a `Uint8Array` checked as the SDK checks base64, `ApproximateArrivalTimestamp` as the
 * SDK's `Date`. Every other call, and every error answer, keeps the SDK's deserializer.
 *
 * @internal
 */
import type * as Sdk from "@aws-sdk/client-kinesis"

/** The parts of the SDK's protocol object this module uses. */
interface Protocol {
  getShapeId?(): string
  deserializeResponse(operation: { readonly name: string }, context: Context, response: Response): Promise<unknown>
  deserializeMetadata?(response: Response): Sdk.GetRecordsCommandOutput["$metadata"]
}
interface Context {
  readonly streamCollector?: (body: unknown) => Promise<Uint8Array>
}
interface Response {
  readonly statusCode: number
  readonly headers: Record<string, string | undefined>
  readonly body: unknown
}

/**
 * Makes the client read GetRecords answers here (see the module's description); a client with another
 * protocol than Kinesis' JSON 1.1 (one given in its settings) is left as it is.
 */
export const install = <C extends { readonly config: object }>(client: C): C => {
  const protocol = (client.config as { readonly protocol?: Protocol }).protocol
  if (protocol === undefined || typeof protocol.deserializeResponse !== "function") return client
  if (protocol.getShapeId?.() !== "aws.protocols#awsJson1_1") return client
  const sdk = protocol.deserializeResponse.bind(protocol)
  protocol.deserializeResponse = async (operation, context, response) => {
    if (operation.name !== "GetRecords" || response.statusCode >= 300) return sdk(operation, context, response)
    const bytes = await bodyOf(response.body, context)
    const output = read(bytes)
    return { ...output, $metadata: protocol.deserializeMetadata?.(response) ?? { httpStatusCode: response.statusCode } }
  }
  return client
}

const bodyOf = async (body: unknown, context: Context): Promise<Uint8Array> => {
  if (body === undefined) return new Uint8Array()
  if (body instanceof Uint8Array) return body
  if (context.streamCollector === undefined) throw new TypeError("GetRecords: the client has no stream collector")
  return context.streamCollector(body)
}

const text = new TextDecoder()

/** A GetRecords answer's body as the SDK would read it (members it does not know are left out, as it does). */
const read = (bytes: Uint8Array): Sdk.GetRecordsOutput => {
  const output = {} as { -readonly [K in keyof Sdk.GetRecordsOutput]: Sdk.GetRecordsOutput[K] }
  if (bytes.byteLength === 0) return output
  const raw = JSON.parse(text.decode(bytes)) as RawOutput
  if (raw.Records != null) {
    const records: Array<Sdk._Record> = new Array(raw.Records.length)
    for (let i = 0; i < raw.Records.length; i++) records[i] = record(raw.Records[i])
    output.Records = records
  }
  if (raw.NextShardIterator != null) output.NextShardIterator = raw.NextShardIterator
  if (raw.MillisBehindLatest != null) output.MillisBehindLatest = Number(raw.MillisBehindLatest)
  if (raw.ChildShards != null) output.ChildShards = raw.ChildShards.map(childShard)
  return output
}

interface RawRecord {
  readonly SequenceNumber?: string | null
  readonly ApproximateArrivalTimestamp?: number | string | null
  readonly Data?: string | null
  readonly PartitionKey?: string | null
  readonly EncryptionType?: string | null
}
interface RawChildShard {
  readonly ShardId?: string | null
  readonly ParentShards?: ReadonlyArray<string> | null
  readonly HashKeyRange?: { readonly StartingHashKey?: string | null; readonly EndingHashKey?: string | null } | null
}
interface RawOutput {
  readonly Records?: ReadonlyArray<RawRecord> | null
  readonly NextShardIterator?: string | null
  readonly MillisBehindLatest?: number | null
  readonly ChildShards?: ReadonlyArray<RawChildShard> | null
}

const record = (raw: RawRecord): Sdk._Record => {
  const out: { -readonly [K in keyof Sdk._Record]: Sdk._Record[K] } = {} as Sdk._Record
  if (raw.SequenceNumber != null) out.SequenceNumber = raw.SequenceNumber
  if (raw.ApproximateArrivalTimestamp != null) out.ApproximateArrivalTimestamp = epochSeconds(raw.ApproximateArrivalTimestamp)
  if (raw.Data != null) out.Data = base64(raw.Data)
  if (raw.PartitionKey != null) out.PartitionKey = raw.PartitionKey
  if (raw.EncryptionType != null) out.EncryptionType = raw.EncryptionType as Sdk.EncryptionType
  return out
}

const childShard = (raw: RawChildShard): Sdk.ChildShard => {
  const out: { -readonly [K in keyof Sdk.ChildShard]: Sdk.ChildShard[K] } = {} as Sdk.ChildShard
  if (raw.ShardId != null) out.ShardId = raw.ShardId
  if (raw.ParentShards != null) out.ParentShards = [...raw.ParentShards]
  if (raw.HashKeyRange != null) {
    const range: { StartingHashKey?: string; EndingHashKey?: string } = {}
    if (raw.HashKeyRange.StartingHashKey != null) range.StartingHashKey = raw.HashKeyRange.StartingHashKey
    if (raw.HashKeyRange.EndingHashKey != null) range.EndingHashKey = raw.HashKeyRange.EndingHashKey
    out.HashKeyRange = range as Sdk.HashKeyRange
  }
  return out
}

const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/

/** As the SDK reads a blob: padding and alphabet checked, a `Uint8Array` over the decoded bytes. */
const base64 = (input: string): Uint8Array => {
  if ((input.length * 3) % 4 !== 0) throw new TypeError("Incorrect padding on base64 string.")
  if (!base64Pattern.test(input)) throw new TypeError("Invalid base64 string.")
  const buffer = Buffer.from(input, "base64")
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

/** As the SDK reads an epoch-seconds timestamp (a number, or its string). */
const epochSeconds = (value: number | string): Date => {
  const seconds = typeof value === "number" ? value : strictDouble(value)
  if (!Number.isFinite(seconds)) throw new TypeError("Epoch timestamps must be valid, non-Infinite, non-NaN numerics")
  return new Date(Math.round(seconds * 1000))
}

const strictDouble = (value: string): number => {
  if (!/^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(value.trim())) {
    throw new TypeError("Epoch timestamps must be expressed as floating point numbers or their string representation")
  }
  return Number(value)
}
