// Installs the browser of the demo's dashboard test once, before any test file runs.
import { ensureChromium, skip } from "@tributary/server/test-utils/Chromium"

export default function setup(): void {
  if (!skip) ensureChromium()
}
