import { cpus, hostname, release, totalmem, type } from 'node:os'
import { k6Version } from '@faultline/measure'
import type { Machine } from './summary.ts'

/** What the report prints about the machine a run was measured on. */
export function machineInfo(k6Binary?: string): Machine {
  const cpu = cpus()
  return {
    cpuModel: cpu[0]?.model.trim() ?? 'unknown CPU',
    cores: cpu.length,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    os: `${type()} ${release()}`,
    node: process.version,
    k6: k6Version(k6Binary),
    hostname: hostname(),
  }
}
