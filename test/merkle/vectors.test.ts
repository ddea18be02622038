/**
 * Known-answer vectors. The leaves are those of the RFC 6962 / transparency-dev/merkle
 * test data. Every expected hash was produced outside this code base, in bash, with
 * these two helpers (the command that produced each value is beside it):
 *
 *   lh() { printf "\x00$1" | sha256sum | cut -c1-64; }                          # leaf
 *   nh() { { printf '\x01'; printf %s "$1$2" | xxd -r -p; } | sha256sum | cut -c1-64; }  # node
 *
 * The roots for sizes 1..8 also equal the published transparency-dev/merkle
 * `testdata` roots (size 8: 5dc9da79…).
 */
import { expect } from "chai";
import {
  EMPTY_ROOT,
  consistencyProof,
  hashChildren,
  hashLeaf,
  inclusionProof,
  rootHash,
  verifyConsistency,
  verifyInclusion,
} from "../../server/merkle";
import { hex, hexes, unhex } from "./reference";

const LEAVES: Uint8Array[] = [
  "",
  "00",
  "10",
  "2021",
  "3031",
  "40414243",
  "5051525354555657",
  "606162636465666768696a6b6c6d6e6f",
].map(unhex);

// Leaf hashes.
const L0 = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"; // lh ''
const L1 = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"; // lh '\x00'
const L2 = "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"; // lh '\x10'
const L3 = "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"; // lh '\x20\x21'
const L4 = "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"; // lh '\x30\x31'
const L5 = "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"; // lh '\x40\x41\x42\x43'
const L6 = "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"; // lh '\x50\x51\x52\x53\x54\x55\x56\x57'
const L7 = "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"; // lh '\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f'

// Interior nodes, named by the leaves they cover.
const N01 = "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"; // nh $L0 $L1
const N23 = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"; // nh $L2 $L3
const N45 = "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"; // nh $L4 $L5
const N67 = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"; // nh $L6 $L7
const N03 = "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"; // nh $N01 $N23
const N47 = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"; // nh $N45 $N67
const N46 = "837dbb152e9b079010717e84e865da4ebc0fa198a806d59d31bf15accef22d0e"; // nh $N45 $L6

// Roots by tree size.
const ROOTS: string[] = [
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", // printf '' | sha256sum
  L0, // size 1
  N01, // size 2
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77", // nh $N01 $L2
  N03, // size 4
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4", // nh $N03 $L4
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef", // nh $N03 $N45
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c", // nh $N03 $(nh $N45 $L6)
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328", // nh $N03 $N47
];

// Inclusion proofs: PATH(index, D[size]), read off the tree drawn by the hashes above.
const INCLUSION: { index: number; size: number; proof: string[] }[] = [
  { index: 0, size: 1, proof: [] },
  { index: 0, size: 8, proof: [L1, N23, N47] },
  { index: 5, size: 8, proof: [L4, N67, N03] },
  { index: 2, size: 3, proof: [N01] },
  { index: 1, size: 5, proof: [L0, N23, L4] },
  { index: 4, size: 5, proof: [N03] },
  { index: 6, size: 7, proof: [N45, N03] },
  { index: 3, size: 7, proof: [L2, N01, N46] },
];

// Consistency proofs: PROOF(oldSize, D[newSize]).
const CONSISTENCY: { oldSize: number; newSize: number; proof: string[] }[] = [
  { oldSize: 1, newSize: 1, proof: [] },
  { oldSize: 1, newSize: 8, proof: [L1, N23, N47] },
  { oldSize: 2, newSize: 8, proof: [N23, N47] },
  { oldSize: 6, newSize: 8, proof: [N45, N67, N03] },
  { oldSize: 2, newSize: 5, proof: [N23, L4] },
  { oldSize: 3, newSize: 7, proof: [L2, L3, N01, N46] },
  { oldSize: 4, newSize: 7, proof: [N46] },
  { oldSize: 5, newSize: 7, proof: [L4, L5, L6, N03] },
];

describe("merkle: known-answer vectors", () => {
  it("EMPTY_ROOT is SHA-256 of the empty string", () => {
    expect(hex(EMPTY_ROOT)).to.equal(ROOTS[0]);
  });

  it("hashLeaf prefixes 0x00, hashChildren prefixes 0x01", () => {
    expect(hexes(LEAVES.map(hashLeaf))).to.deep.equal([L0, L1, L2, L3, L4, L5, L6, L7]);
    expect(hex(hashChildren(unhex(L0), unhex(L1)))).to.equal(N01);
    expect(hex(hashChildren(unhex(N45), unhex(L6)))).to.equal(N46);
  });

  it("rootHash matches the root for every size 0..8", () => {
    for (let size = 0; size <= 8; size++) {
      expect(hex(rootHash(LEAVES.slice(0, size))), `size ${size}`).to.equal(ROOTS[size]);
    }
  });

  for (const { index, size, proof } of INCLUSION) {
    it(`inclusion proof of leaf ${index} in a tree of ${size}`, () => {
      const got = inclusionProof(index, LEAVES.slice(0, size));
      expect(hexes(got)).to.deep.equal(proof);
      const leafHash = hashLeaf(LEAVES[index]);
      expect(verifyInclusion(index, size, leafHash, proof.map(unhex), unhex(ROOTS[size]))).to.equal(
        true,
      );
    });
  }

  for (const { oldSize, newSize, proof } of CONSISTENCY) {
    it(`consistency proof from ${oldSize} to ${newSize}`, () => {
      const got = consistencyProof(oldSize, LEAVES.slice(0, newSize));
      expect(hexes(got)).to.deep.equal(proof);
      const ok = verifyConsistency(
        oldSize,
        newSize,
        unhex(ROOTS[oldSize]),
        unhex(ROOTS[newSize]),
        proof.map(unhex),
      );
      expect(ok).to.equal(true);
    });
  }
});
