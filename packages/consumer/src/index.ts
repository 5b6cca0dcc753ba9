/**
 * @since 0.1.0
 */
export * as Consumer from "./Consumer.js"
export * as LeaseCoordinator from "./LeaseCoordinator.js"
export * as LeaseKey from "./LeaseKey.js"
export * as LeaseTaker from "./LeaseTaker.js"
export * as LeaseView from "./LeaseView.js"
