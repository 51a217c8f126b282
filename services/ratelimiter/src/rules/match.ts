/**
 * Which rule limits a descriptor, the way envoyproxy/ratelimit decides it: walk the domain's tree
 * entry by entry; at each level the entry's exact `key=value` node wins over the key's value-less
 * (wildcard) node; the rule is the limit of the node the last entry reaches. A descriptor that
 * leaves the tree early, or ends on a node without a limit, has no rule and is always OK.
 * There is no backtracking: an exact node that leads nowhere does not fall back to the wildcard,
 * as in Envoy, so the same request means the same rule in both services.
 */
import type { DescriptorEntry } from '../decision-types.ts'
import type { CompiledLimit, CompiledRules, RuleNode } from './compile.ts'

export function matchDescriptor(
  rules: CompiledRules,
  domain: string,
  entries: readonly DescriptorEntry[],
): CompiledLimit | undefined {
  let node: RuleNode | undefined = rules.domains.get(domain)
  for (const entry of entries) {
    if (!node) return undefined
    const branch = node.children.get(entry.key)
    if (!branch) return undefined
    node = branch.exact.get(entry.value) ?? branch.wildcard
  }
  return entries.length > 0 ? node?.limit : undefined
}
