/** What a measured figure means nothing without: the machine, the software versions, the date. */
import { readFileSync } from 'node:fs'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { k6Version } from '@faultline/measure'

export interface MachineInfo {
  date: string
  cpuModel: string
  cores: number
  memoryGiB: number
  kernel: string
  node: string
  k6: string
  /** 1, 5 and 15 minute load averages when the run started: a busy machine skews every number. */
  loadAverage: number[]
}

export async function machineInfo(): Promise<MachineInfo> {
  let cpuModel = cpus()[0]?.model ?? 'unknown'
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'))
    if (line) cpuModel = line.split(':')[1]?.trim() ?? cpuModel
  } catch {
    // Not Linux: os.cpus() is good enough.
  }
  return {
    date: new Date().toISOString(),
    cpuModel,
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    k6: k6Version(),
    loadAverage: loadavg().map((v) => Math.round(v * 100) / 100),
  }
}

export function machineLine(m: MachineInfo): string {
  return `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB RAM, Linux ${m.kernel}; Node ${m.node}; ${m.k6}; load average at start ${m.loadAverage.join(' / ')}`
}
