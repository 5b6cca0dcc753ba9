#!/usr/bin/env node
// `tributary` in this repository (`npx tributary ...` from its root): the command as `pnpm build` bundles
// it (`pnpm install` does too). The published package's bin is dist/bundle/tributary.js itself.
import "../dist/bundle/tributary.js"
