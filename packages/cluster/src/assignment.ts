import { fnv1a32 } from "@umbra/bus";

/**
 * Which live member owns which partition: rendezvous (highest random weight) hashing.
 * Every member computes the same answer from the same member list, with no leader and
 * no stored plan, and a change of membership moves only the partitions it must: a
 * member that leaves hands each of its partitions to the next-highest member, a member
 * that joins takes from each other member only the partitions where it now scores
 * highest (about P / N in total).
 */

/** The murmur3 finaliser: spreads FNV's weak low bits over the whole word. */
const mix32 = (h: number): number => {
  let x = h >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
};

const weight = (memberHash: number, partition: number): number =>
  mix32(memberHash ^ Math.imul(partition + 1, 0x9e3779b1));

/** The owner of every partition, indexed by partition; `undefined` when nobody is live. */
export const assignOwners = (
  members: readonly string[],
  partitions: number,
): (string | undefined)[] => {
  // Sorted so that equal weights (vanishingly rare) break the same way everywhere.
  const sorted = [...new Set(members)].sort();
  const hashes = sorted.map((member) => fnv1a32(member));
  const owners: (string | undefined)[] = new Array(partitions);
  for (let p = 0; p < partitions; p++) {
    let best = -1;
    let owner: string | undefined;
    for (let i = 0; i < sorted.length; i++) {
      const w = weight(hashes[i] as number, p);
      if (w > best) {
        best = w;
        owner = sorted[i];
      }
    }
    owners[p] = owner;
  }
  return owners;
};

/** The partitions `member` owns among `members` (itself included or not). */
export const partitionsOf = (
  member: string,
  members: readonly string[],
  partitions: number,
): number[] => {
  const owners = assignOwners(
    members.includes(member) ? members : [...members, member],
    partitions,
  );
  const out: number[] = [];
  for (let p = 0; p < partitions; p++) if (owners[p] === member) out.push(p);
  return out;
};
