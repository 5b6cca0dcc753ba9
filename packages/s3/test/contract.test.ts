/**
 * The object store contract of @tributary/core on S3 (s3rver through the real SDK, a new bucket per test).
 */
import * as ObjectStoreContract from "@tributary/core/test-utils/ObjectStoreContract"
import { freshStore, s3rver } from "./helpers.js"

ObjectStoreContract.run("S3 (s3rver)", freshStore, { shared: s3rver, byteOrderAroundSlash: false })
