/**
 * CPU time of processes and threads from Linux /proc, in seconds (and a process's resident
 * memory, in bytes). A process's /proc/<pid>/stat sums all its threads (Node's GC and libuv
 * threads, k6's goroutine threads); /proc/<pid>/task/<pid>/stat is the main thread alone — for
 * Node, the event loop, the one thread that runs JavaScript and so the one that saturates first.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

let clockTicks: number | undefined

/** Clock ticks per second (`getconf CLK_TCK`; 100 on every mainstream Linux). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/** utime + stime of a /proc stat line, in clock ticks. The command name may contain spaces and ')'. */
export function parseStatTicks(stat: string): number | undefined {
  const close = stat.lastIndexOf(')')
  if (close === -1) return undefined
  // Fields after "pid (comm)": state is field 3, utime 14 and stime 15 (1-based).
  const fields = stat
    .slice(close + 2)
    .trim()
    .split(/\s+/)
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  return Number.isFinite(utime) && Number.isFinite(stime) ? utime + stime : undefined
}

/** CPU seconds used so far by a process (all threads), or by its main thread; undefined if gone. */
export function processCpuSeconds(pid: number, mainThreadOnly = false): number | undefined {
  try {
    const path = mainThreadOnly ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`
    const ticks = parseStatTicks(readFileSync(path, 'utf8'))
    return ticks === undefined ? undefined : ticks / clockTicksPerSecond()
  } catch {
    return undefined
  }
}

/** The aggregate `cpu` line of /proc/stat → busy and total jiffies over all cores. */
export function parseProcStat(text: string): { busy: number; total: number } | undefined {
  const line = text.split('\n').find((l) => l.startsWith('cpu '))
  if (line === undefined) return undefined
  const v = line.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal (guest and guest_nice are already in user/nice).
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v
  const total = user + nice + system + idle + iowait + irq + softirq + steal
  return { busy: total - idle - iowait, total }
}

export function hostCpuJiffies(): { busy: number; total: number } | undefined {
  try {
    return parseProcStat(readFileSync('/proc/stat', 'utf8'))
  } catch {
    return undefined
  }
}

export interface ProcEntry {
  pid: number
  /** The kernel's command name (at most 15 characters: `toxiproxy-serv`). */
  comm: string
  cpuSeconds: number
}

/** `pid (comm) state …` → pid, comm and CPU seconds; undefined for a malformed line. */
export function parseProcEntry(stat: string): ProcEntry | undefined {
  const open = stat.indexOf('(')
  const close = stat.lastIndexOf(')')
  const ticks = parseStatTicks(stat)
  if (open === -1 || close === -1 || ticks === undefined) return undefined
  return {
    pid: Number(stat.slice(0, open).trim()),
    comm: stat.slice(open + 1, close),
    cpuSeconds: ticks / clockTicksPerSecond(),
  }
}

/** Every process on the machine with its CPU seconds so far (processes that vanish are skipped). */
export function processTable(): ProcEntry[] {
  const out: ProcEntry[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const entry = parseProcEntry(readFileSync(`/proc/${name}/stat`, 'utf8'))
      if (entry) out.push(entry)
    } catch {
      // Exited between readdir and read.
    }
  }
  return out
}

/**
 * Which part of the system a process belongs to, for the CPU breakdown: the processes the bench
 * started are known by pid; the infrastructure by its command name (Kafka is the only JVM here,
 * S3 is versitygw); everything else — another k6, another service, a test run in parallel — is
 * `other`.
 */
export function cpuGroup(comm: string, pid: number, known: ReadonlyMap<number, string>): string {
  const name = known.get(pid)
  if (name !== undefined) return name
  if (comm === 'versitygw') return 's3'
  if (comm === 'postgres') return 'postgres'
  if (comm === 'redis-server') return 'redis'
  if (comm === 'java') return 'kafka'
  if (comm.startsWith('toxiproxy')) return 'toxiproxy'
  return 'other'
}

/**
 * CPU seconds of every process on the machine so far, summed by cpuGroup (`known`: pid → name of
 * the processes the bench started). Two snapshots' difference says where a run's CPU went.
 */
export function cpuSecondsByGroup(known: ReadonlyMap<number, string>): Map<string, number> {
  const groups = new Map<string, number>()
  for (const p of processTable()) {
    const group = cpuGroup(p.comm, p.pid, known)
    groups.set(group, (groups.get(group) ?? 0) + p.cpuSeconds)
  }
  return groups
}

/** Resident set size of a process in bytes (VmRSS of /proc/<pid>/status), or undefined once it is gone. */
export function processRssBytes(pid: number): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'))
    const kb = line === undefined ? Number.NaN : Number(line.split(/\s+/)[1])
    return Number.isFinite(kb) ? kb * 1024 : undefined
  } catch {
    return undefined
  }
}
