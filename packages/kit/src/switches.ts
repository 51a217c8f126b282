/**
 * Mitigation switches from one manifest (`defineSwitches`): the env parsing, the live typed state
 * (`SwitchState`), `GET/PUT /admin/mitigations` with the `faultline_mitigation_enabled` gauge
 * (`installSwitches` / `switchesPlugin`), and the JSON schema of a switch set (`switchesSchema`).
 */
export * from './switches/manifest.ts'
export * from './switches/plugin.ts'
export * from './switches/state.ts'
