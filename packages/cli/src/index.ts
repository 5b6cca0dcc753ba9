/**
 * @since 0.1.0
 */
export * as Demo from "./Demo.js"
/**
 * @since 0.1.0
 */
export * as Traffic from "./Traffic.js"
/**
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"
