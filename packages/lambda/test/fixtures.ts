import type { DynamoDBStreamEvent, KinesisStreamEvent } from "aws-lambda"

/** The sample Kinesis event of the Lambda developer guide ("Using Lambda with Kinesis"). */
export const awsSampleEvent: KinesisStreamEvent = {
  Records: [
    {
      kinesis: {
        kinesisSchemaVersion: "1.0",
        partitionKey: "1",
        sequenceNumber: "49590338271490256608559692538361571095921575989136588898",
        data: "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==",
        approximateArrivalTimestamp: 1545084650.987
      },
      eventSource: "aws:kinesis",
      eventVersion: "1.0",
      eventID: "shardId-000000000006:49590338271490256608559692538361571095921575989136588898",
      eventName: "aws:kinesis:record",
      invokeIdentityArn: "arn:aws:iam::123456789012:role/lambda-role",
      awsRegion: "us-east-2",
      eventSourceARN: "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"
    },
    {
      kinesis: {
        kinesisSchemaVersion: "1.0",
        partitionKey: "1",
        sequenceNumber: "49590338271490256608559692540925702759324208523137515618",
        data: "VGhpcyBpcyBvbmx5IGEgdGVzdC4=",
        approximateArrivalTimestamp: 1545084711.166
      },
      eventSource: "aws:kinesis",
      eventVersion: "1.0",
      eventID: "shardId-000000000006:49590338271490256608559692540925702759324208523137515618",
      eventName: "aws:kinesis:record",
      invokeIdentityArn: "arn:aws:iam::123456789012:role/lambda-role",
      awsRegion: "us-east-2",
      eventSourceARN: "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"
    }
  ]
}


/**
 * The sample DynamoDB stream event of the Lambda developer guide ("Using Lambda with DynamoDB": an INSERT, a
 * MODIFY and a REMOVE of item 101, `eventSourceARN` left as the guide's placeholder), and a deletion by Time
 * to Live as the DynamoDB developer guide describes its records (`userIdentity` of the DynamoDB service).
 */
export const awsDynamoDBSampleEvent: DynamoDBStreamEvent = {
  Records: [
    {
      eventID: "1",
      eventVersion: "1.0",
      dynamodb: {
        Keys: { Id: { N: "101" } },
        NewImage: { Message: { S: "New item!" }, Id: { N: "101" } },
        StreamViewType: "NEW_AND_OLD_IMAGES",
        SequenceNumber: "111",
        SizeBytes: 26
      },
      awsRegion: "us-west-2",
      eventName: "INSERT",
      eventSourceARN: "stream-ARN",
      eventSource: "aws:dynamodb"
    },
    {
      eventID: "2",
      eventVersion: "1.0",
      dynamodb: {
        OldImage: { Message: { S: "New item!" }, Id: { N: "101" } },
        SequenceNumber: "222",
        Keys: { Id: { N: "101" } },
        SizeBytes: 59,
        NewImage: { Message: { S: "This item has changed" }, Id: { N: "101" } },
        StreamViewType: "NEW_AND_OLD_IMAGES"
      },
      awsRegion: "us-west-2",
      eventName: "MODIFY",
      eventSourceARN: "stream-ARN",
      eventSource: "aws:dynamodb"
    },
    {
      eventID: "3",
      eventVersion: "1.0",
      dynamodb: {
        Keys: { Id: { N: "101" } },
        SizeBytes: 38,
        SequenceNumber: "333",
        OldImage: { Message: { S: "This item has changed" }, Id: { N: "101" } },
        StreamViewType: "NEW_AND_OLD_IMAGES"
      },
      awsRegion: "us-west-2",
      eventName: "REMOVE",
      eventSourceARN: "stream-ARN",
      eventSource: "aws:dynamodb"
    },
    {
      eventID: "4",
      eventVersion: "1.1",
      dynamodb: {
        ApproximateCreationDateTime: 1_700_000_000,
        Keys: { Id: { N: "102" } },
        OldImage: { Message: { S: "Expiring item" }, Id: { N: "102" } },
        SequenceNumber: "444",
        SizeBytes: 36,
        StreamViewType: "NEW_AND_OLD_IMAGES"
      },
      awsRegion: "us-west-2",
      eventName: "REMOVE",
      userIdentity: { type: "Service", principalId: "dynamodb.amazonaws.com" },
      eventSourceARN: "arn:aws:dynamodb:us-west-2:123456789012:table/ExampleTable/stream/2023-06-10T19:26:16.525",
      eventSource: "aws:dynamodb"
    }
  ]
}

/**
 * A change as Kinesis Data Streams for DynamoDB writes it into a Kinesis record (the shape the DynamoDB
 * developer guide documents: the change with `tableName` and `recordFormat`, no sequence number or view
 * type, time in milliseconds), on the guide's Music table.
 */
export const awsKinesisChange = {
  awsRegion: "us-west-2",
  eventID: "0e4a9e0e-dc8c-4bd4-8cb3-0a30e29ed3c2",
  eventName: "MODIFY",
  userIdentity: null,
  recordFormat: "application/json",
  tableName: "Music",
  dynamodb: {
    ApproximateCreationDateTime: 1_731_924_555_370,
    Keys: { Artist: { S: "No One You Know" }, SongTitle: { S: "Call Me Today" } },
    NewImage: {
      Artist: { S: "No One You Know" },
      SongTitle: { S: "Call Me Today" },
      AlbumTitle: { S: "Somewhat Famous" },
      Awards: { N: "2" }
    },
    OldImage: {
      Artist: { S: "No One You Know" },
      SongTitle: { S: "Call Me Today" },
      AlbumTitle: { S: "Somewhat Famous" },
      Awards: { N: "1" }
    },
    SizeBytes: 180
  },
  eventSource: "aws:dynamodb"
} as const

/** The Lambda Kinesis event carrying `awsKinesisChange`, as a function reading that stream receives it. */
export const awsKinesisChangeEvent: KinesisStreamEvent = {
  Records: [
    {
      kinesis: {
        kinesisSchemaVersion: "1.0",
        partitionKey: "859F7C064A4818874FA67ABEC9BF2AF1",
        sequenceNumber: "49657828409187701520019995242508390119953358325192589314",
        data: Buffer.from(JSON.stringify(awsKinesisChange)).toString("base64"),
        approximateArrivalTimestamp: 1731924555.932
      },
      eventSource: "aws:kinesis",
      eventVersion: "1.0",
      eventID: "shardId-000000000000:49657828409187701520019995242508390119953358325192589314",
      eventName: "aws:kinesis:record",
      invokeIdentityArn: "arn:aws:iam::123456789012:role/lambda-role",
      awsRegion: "us-west-2",
      eventSourceARN: "arn:aws:kinesis:us-west-2:123456789012:stream/music-changes"
    }
  ]
}
