#!/usr/bin/env -S node --conditions=@tributary/compiled
// `tributary` in this repository (`npx tributary ...` from its root): the compiled command of dist/, with the
// other packages resolved to their dist/ too (the condition above; in the repository their exports point at
// the TypeScript sources). The published package's bin is dist/bin/tributary.js itself.
import "../dist/bin/tributary.js"
