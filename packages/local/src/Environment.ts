/**
 * Environment variables set for the length of a scope, e.g. `AWS_ENDPOINT_URL_KINESIS` pointing at a local
 * emulator while code that reads the standard AWS settings runs (the SDKs read some of them from
 * `process.env` themselves, past Effect's `ConfigProvider`).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/**
 * Sets the variables, and restores what they were (or removes them) when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const scoped = (vars: Readonly<Record<string, string>>): Effect.Effect<void, never, Scope.Scope> =>
  Effect.asVoid(Effect.acquireRelease(
    Effect.sync(() => {
      const saved = Object.keys(vars).map((name) => [name, process.env[name]] as const)
      Object.assign(process.env, vars)
      return saved
    }),
    (saved) =>
      Effect.sync(() => {
        for (const [name, value] of saved) {
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        }
      })
  ))
