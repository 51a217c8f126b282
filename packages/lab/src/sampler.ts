/**
 * The lab's scrapes of the system: every instance's `/metrics` (workers' too, so an invariant
 * can read a consumer's counter) once before the load, every second during it, once at the end;
 * and `/readyz` of the HTTP instances every second (the ready-instance series: workers serve no
 * users, so their readiness is not the fleet's).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { type Scrape, scrapeInstance } from './metrics-scrape.ts'
import type { ServiceFleet } from './services.ts'

function scrapeTargets(fleet: ServiceFleet) {
  return fleet.instances.flatMap((i) => {
    const svc = fleet.serviceOf(i)
    const readyPath = svc.role === 'http' ? svc.readyPath : null
    if (!svc.metricsPath && !readyPath) return []
    return [{ instance: i.name, service: i.service, baseUrl: i.url, metricsPath: svc.metricsPath, readyPath }]
  })
}

/** One scrape of every instance's metrics (before and after the load). */
export async function scrapeAll(fleet: ServiceFleet, tS: number): Promise<Scrape[]> {
  return Promise.all(scrapeTargets(fleet).map((t) => scrapeInstance({ ...t, readyPath: null }, tS, 3000)))
}

/** Scrapes every instance once a second from the load start until stopped. */
export class Sampler {
  readonly samples: Scrape[] = []
  private stopped = false
  private loop: Promise<void> | undefined
  private readonly fleet: ServiceFleet
  private readonly startMs: number

  constructor(fleet: ServiceFleet, startMs: number) {
    this.fleet = fleet
    this.startMs = startMs
  }

  start(): void {
    this.loop = (async () => {
      for (let tick = 0; !this.stopped; tick++) {
        const tS = tick
        const targets = scrapeTargets(this.fleet)
        const scrapes = await Promise.all(targets.map((t) => scrapeInstance(t, tS, 800)))
        this.samples.push(...scrapes)
        const next = this.startMs + (tick + 1) * 1000 - performance.now()
        if (next > 0 && !this.stopped) await sleep(next)
      }
    })()
  }

  async stop(): Promise<void> {
    this.stopped = true
    await this.loop
  }
}
