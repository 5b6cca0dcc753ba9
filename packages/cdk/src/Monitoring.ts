/**
 * CloudWatch alarms and a dashboard over the metrics Tributary sends to CloudWatch (EMF lines or
 * PutMetricData, see `@tributary/cloudwatch`), the stream's own `AWS/Kinesis` metrics and, for Lambda
 * consumers, `AWS/Lambda`'s `IteratorAge`.
 *
 * | alarm | metric | fires when (defaults) |
 * | --- | --- | --- |
 * | consumer lag, per stream | `MillisBehindLatest`, Maximum by `StreamName` | above 60 s for 10 minutes |
 * | iterator age, per Lambda function | `AWS/Lambda` `IteratorAge`, Maximum | above 60 s for 10 minutes |
 * | dead letters, per pipeline | `RecordsDeadLettered`, Sum per minute by `Pipeline` | at least 1 in a minute |
 * | lease renewal failures, per application | `LeaseRenewalFailures`, Sum per minute by `Application` | at least 1 a minute for 5 minutes |
 * | sink retries, per pipeline | `SinkRetries`, Sum per minute by `Pipeline` | at least 1 a minute for 10 minutes |
 *
 * Missing data never fires an alarm: a worker that is not running sends nothing, which the lag alarm of
 * the Kinesis stream (`GetRecords.IteratorAgeMilliseconds` on the dashboard) and the "no progress" of the
 * records graph show instead.
 *
 * @since 0.1.0
 */
// the names only: not the package index, which loads the CloudWatch SDK client
import * as CloudWatchMetrics from "@tributary/cloudwatch/CloudWatchMetrics"
import { Duration } from "aws-cdk-lib"
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch"
import type * as kinesis from "aws-cdk-lib/aws-kinesis"
import type * as lambda from "aws-cdk-lib/aws-lambda"
import { Construct } from "constructs"
import { DataStream } from "./DataStream.js"

const { Dimension, names } = CloudWatchMetrics

/**
 * What is monitored: the dimension values Tributary's metrics carry.
 *
 * @since 0.1.0
 * @category models
 */
export interface Monitored {
  /** The namespace the metrics are sent to. Default `Tributary`. */
  readonly namespace?: string
  /** Pipeline names (`Pipeline.make(name)`). */
  readonly pipelines?: ReadonlyArray<string>
  /** The streams the workers read. */
  readonly streams?: ReadonlyArray<kinesis.IStream | DataStream>
  /** Consumer applications (the coordinator's `application`: by default the stream's name). */
  readonly applications?: ReadonlyArray<string>
  /** Lambda consumers. */
  readonly lambdaFunctions?: ReadonlyArray<lambda.IFunction>
}

/**
 * One of Tributary's metrics, for alarms and graphs of your own.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metric = (
  name: string,
  dimensions: Readonly<Record<string, string>>,
  options: { readonly namespace?: string | undefined; readonly statistic?: string; readonly period?: Duration; readonly label?: string } = {}
): cloudwatch.Metric =>
  new cloudwatch.Metric({
    namespace: options.namespace ?? CloudWatchMetrics.defaultNamespace,
    metricName: name,
    dimensionsMap: { ...dimensions },
    statistic: options.statistic ?? "Sum",
    period: options.period ?? Duration.minutes(1),
    ...(options.label === undefined ? {} : { label: options.label })
  })

const streamOf = (stream: kinesis.IStream | DataStream): kinesis.IStream => stream instanceof DataStream ? stream.stream : stream

/**
 * Props of `Alarms`: what is monitored, the thresholds, and what the alarms do.
 *
 * @since 0.1.0
 * @category models
 */
export interface AlarmsProps extends Monitored {
  /** The lag (milliseconds) above which the lag and iterator age alarms fire. Default 60,000 (1 minute). */
  readonly maxMillisBehindLatest?: number
  /** Dead letters in one minute that fire the alarm. Default 1. */
  readonly deadLettersPerMinute?: number
  /** Minutes with sink retries in a row that fire the alarm. Default 10. */
  readonly sinkRetryMinutes?: number
  /** Minutes with lease renewal failures in a row that fire the alarm. Default 5. */
  readonly leaseRenewalFailureMinutes?: number
  /** What an alarm does when it fires and when it recovers, e.g. an `SnsAction`. */
  readonly actions?: ReadonlyArray<cloudwatch.IAlarmAction>
}

/**
 * The alarms of the module's table, one set per stream, Lambda function, pipeline and application given;
 * missing data is not breaching.
 *
 * @since 0.1.0
 * @category constructs
 */
export class Alarms extends Construct {
  /** Every alarm made, e.g. for a `Dashboard`'s `alarms`. */
  readonly alarms: Array<cloudwatch.Alarm> = []

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id)
    const namespace = props.namespace
    const lag = props.maxMillisBehindLatest ?? 60_000
    const add = (alarmId: string, m: cloudwatch.IMetric, options: {
      readonly threshold: number
      readonly periods: number
      readonly description: string
      readonly comparison?: cloudwatch.ComparisonOperator
    }) => {
      const alarm = new cloudwatch.Alarm(this, alarmId, {
        metric: m,
        threshold: options.threshold,
        evaluationPeriods: options.periods,
        datapointsToAlarm: options.periods,
        comparisonOperator: options.comparison ?? cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: options.description
      })
      for (const action of props.actions ?? []) {
        alarm.addAlarmAction(action)
        alarm.addOkAction(action)
      }
      this.alarms.push(alarm)
    }
    ;(props.streams ?? []).forEach((s, i) => {
      const stream = streamOf(s)
      add(`ConsumerLag${i}`, metric(names.millisBehindLatest, { [Dimension.StreamName]: stream.streamName }, { namespace, statistic: "Maximum" }), {
        threshold: lag,
        periods: 10,
        description: `Workers are more than ${lag} ms behind the newest record of a shard for 10 minutes: they do not keep ` +
          "up, or a shard is stuck (a failing sink). Act before the stream's retention period ends."
      })
    })
    ;(props.lambdaFunctions ?? []).forEach((fn, i) => {
      add(`IteratorAge${i}`, fn.metric("IteratorAge", { statistic: "Maximum", period: Duration.minutes(1) }), {
        threshold: lag,
        periods: 10,
        description: `The Lambda consumer's records are more than ${lag} ms old when processed, for 10 minutes.`
      })
    })
    for (const [i, pipeline] of (props.pipelines ?? []).entries()) {
      add(`DeadLetters${i}`, metric(names.recordsDeadLettered, { [Dimension.Pipeline]: pipeline }, { namespace }), {
        threshold: props.deadLettersPerMinute ?? 1,
        comparison: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        periods: 1,
        description: `Pipeline ${pipeline} dead-letters records: a producer sends what the decoder rejects, or a sink ` +
          "rejects values permanently. Read the stage and reason of recent dead letters."
      })
      const minutes = props.sinkRetryMinutes ?? 10
      add(`SinkRetries${i}`, metric(names.sinkRetries, { [Dimension.Pipeline]: pipeline }, { namespace }), {
        threshold: 0,
        periods: minutes,
        description: `A sink of pipeline ${pipeline} has failed transiently every minute for ${minutes} minutes: it is ` +
          "throttled or down, and its shards make no progress."
      })
    }
    for (const [i, application] of (props.applications ?? []).entries()) {
      const minutes = props.leaseRenewalFailureMinutes ?? 5
      add(`LeaseRenewalFailures${i}`, metric(names.leaseRenewalFailures, { [Dimension.Application]: application }, { namespace }), {
        threshold: 0,
        periods: minutes,
        description: `Lease renewals of ${application} fail every minute for ${minutes} minutes: the lease table is ` +
          "throttled or unreachable; leases not renewed for a lease duration are lost and their shards stop."
      })
    }
  }
}

/**
 * Props of `Dashboard`: what is monitored, its name, and the alarms it shows.
 *
 * @since 0.1.0
 * @category models
 */
export interface DashboardProps extends Monitored {
  /** The dashboard's name. Default: generated by CloudFormation. */
  readonly dashboardName?: string
  /** Alarms to show in an alarm status widget. */
  readonly alarms?: ReadonlyArray<cloudwatch.IAlarm>
}

/**
 * The live dashboard's views in CloudWatch: records in, out, dead-lettered, late and filtered per minute
 * and in total; the lag of every shard; the leases held and what happened to leases; sink retries and
 * shard exits; the stream's own metrics; and the alarms.
 *
 * @since 0.1.0
 * @category constructs
 */
export class Dashboard extends Construct {
  /** The underlying CDK dashboard, to add widgets of your own to. */
  readonly dashboard: cloudwatch.Dashboard

  constructor(scope: Construct, id: string, props: DashboardProps) {
    super(scope, id)
    const namespace = props.namespace ?? CloudWatchMetrics.defaultNamespace
    this.dashboard = new cloudwatch.Dashboard(this, "Resource", {
      ...(props.dashboardName === undefined ? {} : { dashboardName: props.dashboardName }),
      defaultInterval: Duration.hours(3)
    })
    const wide = 12
    const counts = [names.recordsIn, names.recordsOut, names.recordsDeadLettered, names.recordsLate, names.recordsFiltered]
    for (const pipeline of props.pipelines ?? []) {
      const of = (name: string) => metric(name, { [Dimension.Pipeline]: pipeline }, { namespace, label: name })
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({ title: `${pipeline}: records per minute`, left: counts.map(of), width: wide }),
        new cloudwatch.SingleValueWidget({
          title: `${pipeline}: totals over the time range`,
          metrics: counts.map(of),
          setPeriodToTimeRange: true,
          width: wide
        })
      )
    }
    for (const s of props.streams ?? []) {
      const stream = streamOf(s)
      // every series of the stream (one per shard, or per exit): shards come and go with resharding
      const everySeries = (name: string, dimension: string, statistic: string) =>
        new cloudwatch.MathExpression({
          expression: `SEARCH('{${namespace},${Dimension.StreamName},${dimension}} MetricName="${name}" ` +
            `${Dimension.StreamName}="${stream.streamName}"', '${statistic}', 60)`,
          label: "",
          period: Duration.minutes(1)
        })
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({
          title: "Lag per shard (MillisBehindLatest, ms)",
          left: [everySeries(names.millisBehindLatest, Dimension.ShardId, "Maximum")],
          width: wide
        }),
        new cloudwatch.GraphWidget({
          title: "Shard exits (Finished, Stopped, LeaseLost, Failed, Interrupted)",
          left: [everySeries(names.shardExits, Dimension.Exit, "Sum")],
          width: wide
        }),
        new cloudwatch.GraphWidget({
          title: "Stream (AWS/Kinesis)",
          left: [stream.metricIncomingRecords({ statistic: "Sum", period: Duration.minutes(1) })],
          right: [stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: "Maximum", period: Duration.minutes(1) })],
          width: wide
        })
      )
    }
    for (const application of props.applications ?? []) {
      const of = (name: string) => metric(name, { [Dimension.Application]: application }, { namespace, label: name })
      this.dashboard.addWidgets(
        new cloudwatch.GraphWidget({ title: `${application}: leases held`, left: [of(names.currentLeases)], width: wide }),
        new cloudwatch.GraphWidget({
          title: `${application}: leases taken, lost, renewals failed`,
          left: [of(names.takenLeases), of(names.lostLeases), of(names.leaseRenewalFailures)],
          width: wide
        })
      )
    }
    const retries = (props.pipelines ?? []).map((pipeline) =>
      metric(names.sinkRetries, { [Dimension.Pipeline]: pipeline }, { namespace, label: `${pipeline} sink retries` })
    )
    if (retries.length > 0) this.dashboard.addWidgets(new cloudwatch.GraphWidget({ title: "Sink retries", left: retries, width: wide }))
    const lambdas = props.lambdaFunctions ?? []
    if (lambdas.length > 0) {
      this.dashboard.addWidgets(new cloudwatch.GraphWidget({
        title: "Lambda consumers: iterator age (ms)",
        left: lambdas.map((fn) => fn.metric("IteratorAge", { statistic: "Maximum", period: Duration.minutes(1) })),
        right: lambdas.map((fn) => fn.metricErrors({ period: Duration.minutes(1) })),
        width: wide
      }))
    }
    if ((props.alarms ?? []).length > 0) {
      this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: "Alarms", alarms: [...props.alarms!], width: 24 }))
    }
  }
}
