// Installs the browser of the browser tests once, before any test file runs (see test-utils/Chromium.ts).
import { ensureChromium, skip } from "../test-utils/Chromium.js"

export default function setup(): void {
  if (!skip) ensureChromium()
}
