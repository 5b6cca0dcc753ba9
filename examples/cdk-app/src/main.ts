/**
 * The CDK app: `cdk synth` (see cdk.json) runs this file and prints the demo's CloudFormation template; no
 * AWS account is needed to synthesize it. `cdk deploy` deploys it to the account of your AWS settings.
 *
 *   pnpm --filter @tributary/example-cdk-app synth
 */
import { App } from "aws-cdk-lib"
import { DemoStack } from "./stack.js"

const app = new App()
new DemoStack(app, "TributaryDemo")
app.synth()
