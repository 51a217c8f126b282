/**
 * What each algorithm sends to its script: the script's command (its `src/lua/<command>-1.lua`
 * file) and its ARGV, in the order of the script's `Input:` header.
 */
import type { AlgorithmName, LimitRule } from '../types.ts'

export interface AlgorithmScript {
  command: string
  args(rule: LimitRule, cost: number): number[]
}

const windowArgs = (rule: LimitRule, cost: number) => [rule.limit, rule.windowMs, cost]
const bucketArgs = (rule: LimitRule, cost: number) => [
  rule.limit,
  rule.windowMs,
  rule.burst ?? rule.limit,
  cost,
]

export const algorithmScripts: Record<AlgorithmName, AlgorithmScript> = {
  'fixed-window': { command: 'fixedWindow', args: windowArgs },
  'sliding-log': { command: 'slidingLog', args: windowArgs },
  'sliding-window': { command: 'slidingWindow', args: windowArgs },
  'token-bucket': { command: 'tokenBucket', args: bucketArgs },
  gcra: { command: 'gcra', args: bucketArgs },
}
