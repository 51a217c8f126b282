/**
 * Kafka's listeners under compose. A client bootstraps at one address and then connects to
 * whatever the broker advertises on the listener it came in on, so each kind of client needs
 * a listener whose advertised address it can reach — through a proxy, so toxics apply after
 * bootstrap too:
 * - the host (`lab run --infra compose`, published 19092 and 29092): the listener behind the
 *   topology's `kafka` proxy advertises `127.0.0.1:29092`, exactly as the native broker does;
 * - the containers: a listener behind the network-only proxy advertises `toxiproxy:29093`;
 * - admin and health checks: DIRECT advertises `127.0.0.1:19094`, which is the broker itself
 *   inside its container and the published port on the host.
 */
import { ports, proxies } from '@faultline/infra'
import { environmentOf, kafkaNetworkProxy, type Services, toxiproxyService } from './model.ts'

function listenerPorts(value: string | undefined): Map<string, number> {
  return new Map(
    (value ?? '').split(',').map((l) => {
      const m = /^(\w+):\/\/[^:]*:(\d+)$/.exec(l.trim())
      return [m?.[1] ?? l, Number(m?.[2])] as const
    }),
  )
}

function advertisedAddresses(value: string | undefined): Map<string, string> {
  return new Map(
    (value ?? '').split(',').map((l) => {
      const m = /^(\w+):\/\/(.+)$/.exec(l.trim())
      return [m?.[1] ?? l, m?.[2] ?? ''] as const
    }),
  )
}

export function checkKafka(services: Services, problems: string[]): void {
  const name = proxies.kafka.composeService
  const kafka = services[name]
  if (!kafka) return
  const env = environmentOf(kafka)
  const listeners = listenerPorts(env.KAFKA_LISTENERS)
  const advertised = advertisedAddresses(env.KAFKA_ADVERTISED_LISTENERS)
  const advertises = (port: number, address: string) =>
    [...listeners].some(([listener, p]) => p === port && advertised.get(listener) === address)

  const wanted = [
    {
      port: proxies.kafka.containerPort,
      address: `127.0.0.1:${proxies.kafka.listenPort}`,
      why: `proxy ${proxies.kafka.name} forwards to it and host processes use it, as natively`,
    },
    {
      port: kafkaNetworkProxy.containerPort,
      address: `${toxiproxyService}:${kafkaNetworkProxy.listenPort}`,
      why: `proxy ${kafkaNetworkProxy.name} forwards to it and containers use it`,
    },
    {
      port: ports.kafkaDirect,
      address: `127.0.0.1:${ports.kafkaDirect}`,
      why: 'admin and health checks, the same address inside the container and on the host',
    },
  ]
  for (const { port, address, why } of wanted) {
    if (!advertises(port, address)) {
      problems.push(`${name}: the listener on ${port} must advertise ${address} (${why})`)
    }
  }
  for (const controller of (env.KAFKA_CONTROLLER_LISTENER_NAMES ?? '').split(',').filter(Boolean)) {
    if (advertised.has(controller))
      problems.push(`${name}: controller listener ${controller} must not be advertised`)
  }
  // KRaft needs a cluster id that is a base64url-encoded 16-byte UUID.
  const clusterId = env.CLUSTER_ID ?? ''
  if (Buffer.from(clusterId, 'base64url').length !== 16 || !/^[\w-]{22}$/.test(clusterId)) {
    problems.push(`${name}: CLUSTER_ID must be 22 base64url characters (16 bytes)`)
  }
}
