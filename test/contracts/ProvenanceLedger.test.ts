/**
 * ProvenanceLedger: the log registry, roles, pausing, and the verified checkpoint history,
 * with every root and proof made by the TypeScript RFC 9162 module server/merkle.
 */
import { loadFixture, time } from "@nomicfoundation/hardhat-toolbox/network-helpers";
import { expect } from "chai";
import fc from "fast-check";
import { ethers } from "hardhat";
import * as merkle from "../../server/merkle";
import { flipBit, hex, hexProof, leafBytes, leaves } from "./support/merkle-fixtures";

const LOG_ID = ethers.id("log:330102:health-commission:data-sharing");
const OTHER_LOG_ID = ethers.id("log:330106:civil-affairs:data-access");
const UNKNOWN_LOG_ID = ethers.id("log:never-registered");
const LOG_NAME = "杭州市上城区卫生健康局 数据共享日志";
const ADMIN_CODE = "330102";
const LOG_ADMIN_ROLE = ethers.id("LOG_ADMIN_ROLE");
const DEFAULT_ADMIN_ROLE = ethers.ZeroHash;
const UINT64_MAX = 2n ** 64n - 1n;

/** Root (hex) of the first `size` leaves of test tree `tree`. */
function root(size: number, tree = "a"): string {
  return hex(merkle.rootHash(leaves(size, tree)));
}

/** Consistency proof (hex) from `oldSize` to `newSize` leaves of test tree `tree`. */
function consistency(oldSize: number, newSize: number, tree = "a"): string[] {
  return hexProof(merkle.consistencyProof(oldSize, leaves(newSize, tree)));
}

describe("ProvenanceLedger", function () {
  async function deployFixture() {
    const [admin, logAdmin, anchorer, other, newAnchorer] = await ethers.getSigners();
    const ledger = await ethers.deployContract("ProvenanceLedger", [admin.address]);
    await ledger.grantRole(LOG_ADMIN_ROLE, logAdmin.address);
    return { ledger, admin, logAdmin, anchorer, other, newAnchorer };
  }

  async function registeredLogFixture() {
    const fixture = await deployFixture();
    await fixture.ledger.connect(fixture.logAdmin).registerLog(LOG_ID, fixture.anchorer.address, LOG_NAME, ADMIN_CODE);
    return fixture;
  }

  /** The log with one checkpoint: the first 10 leaves of tree "a". */
  async function anchoredLogFixture() {
    const fixture = await registeredLogFixture();
    await fixture.ledger.connect(fixture.anchorer).anchor(LOG_ID, 10, root(10), []);
    return fixture;
  }

  describe("deployment", function () {
    it("grants the initial admin the admin and log admin roles", async function () {
      const { ledger, admin, logAdmin } = await loadFixture(deployFixture);
      expect(await ledger.LOG_ADMIN_ROLE()).to.equal(LOG_ADMIN_ROLE);
      expect(await ledger.hasRole(DEFAULT_ADMIN_ROLE, admin.address)).to.equal(true);
      expect(await ledger.hasRole(LOG_ADMIN_ROLE, admin.address)).to.equal(true);
      expect(await ledger.hasRole(DEFAULT_ADMIN_ROLE, logAdmin.address)).to.equal(false);
      expect(await ledger.getRoleAdmin(LOG_ADMIN_ROLE)).to.equal(DEFAULT_ADMIN_ROLE);
      expect(await ledger.paused()).to.equal(false);
    });

    it("refuses the zero address as initial admin", async function () {
      const factory = await ethers.getContractFactory("ProvenanceLedger");
      await expect(factory.deploy(ethers.ZeroAddress))
        .to.be.revertedWithCustomError(factory, "ProvenanceLedgerInvalidAdmin")
        .withArgs(ethers.ZeroAddress);
    });

    it("supports ERC-165 for IProvenanceLedger, IAccessControl and IERC165", async function () {
      const { ledger } = await loadFixture(deployFixture);
      const interfaceId = async (name: string) => {
        const iface = (await ethers.getContractAt(name, ethers.ZeroAddress)).interface;
        let id = 0n;
        iface.forEachFunction((fn) => (id ^= BigInt(fn.selector)));
        return ethers.toBeHex(id, 4);
      };
      expect(await ledger.supportsInterface(await interfaceId("IProvenanceLedger"))).to.equal(true);
      expect(await ledger.supportsInterface(await interfaceId("IAccessControl"))).to.equal(true);
      expect(await ledger.supportsInterface("0x01ffc9a7")).to.equal(true);
      expect(await ledger.supportsInterface("0xffffffff")).to.equal(false);
    });
  });

  describe("registerLog", function () {
    it("registers a log and emits LogRegistered", async function () {
      const { ledger, logAdmin, anchorer } = await loadFixture(deployFixture);
      await expect(ledger.connect(logAdmin).registerLog(LOG_ID, anchorer.address, LOG_NAME, ADMIN_CODE))
        .to.emit(ledger, "LogRegistered")
        .withArgs(LOG_ID, anchorer.address, LOG_NAME, ADMIN_CODE);
      expect(await ledger.logInfo(LOG_ID)).to.deep.equal([anchorer.address, LOG_NAME, ADMIN_CODE]);
      expect(await ledger.latest(LOG_ID)).to.deep.equal([0n, ethers.ZeroHash]);
    });

    it("keeps logs apart", async function () {
      const { ledger, logAdmin, anchorer, other } = await loadFixture(registeredLogFixture);
      await ledger.connect(logAdmin).registerLog(OTHER_LOG_ID, other.address, "民政局 数据访问日志", "330106");
      await ledger.connect(anchorer).anchor(LOG_ID, 3, root(3), []);
      await ledger.connect(other).anchor(OTHER_LOG_ID, 5, root(5, "b"), []);
      expect(await ledger.latest(LOG_ID)).to.deep.equal([3n, root(3)]);
      expect(await ledger.latest(OTHER_LOG_ID)).to.deep.equal([5n, root(5, "b")]);
      expect(await ledger.rootAt(OTHER_LOG_ID, 3)).to.equal(ethers.ZeroHash);
      await expect(ledger.connect(anchorer).anchor(OTHER_LOG_ID, 6, root(6, "b"), consistency(5, 6, "b")))
        .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerUnauthorizedAnchorer")
        .withArgs(OTHER_LOG_ID, anchorer.address);
    });

    it("lets the initial admin register, as holder of the log admin role", async function () {
      const { ledger, admin, anchorer } = await loadFixture(deployFixture);
      await expect(ledger.connect(admin).registerLog(LOG_ID, anchorer.address, LOG_NAME, ADMIN_CODE)).to.emit(
        ledger,
        "LogRegistered"
      );
    });

    it("refuses an account without the log admin role", async function () {
      const { ledger, anchorer, other } = await loadFixture(deployFixture);
      await expect(ledger.connect(other).registerLog(LOG_ID, anchorer.address, LOG_NAME, ADMIN_CODE))
        .to.be.revertedWithCustomError(ledger, "AccessControlUnauthorizedAccount")
        .withArgs(other.address, LOG_ADMIN_ROLE);
    });

    it("refuses a log admin whose role was revoked", async function () {
      const { ledger, admin, logAdmin, anchorer } = await loadFixture(deployFixture);
      await ledger.connect(admin).revokeRole(LOG_ADMIN_ROLE, logAdmin.address);
      await expect(ledger.connect(logAdmin).registerLog(LOG_ID, anchorer.address, LOG_NAME, ADMIN_CODE))
        .to.be.revertedWithCustomError(ledger, "AccessControlUnauthorizedAccount")
        .withArgs(logAdmin.address, LOG_ADMIN_ROLE);
    });

    it("refuses a duplicate registration", async function () {
      const { ledger, logAdmin, other } = await loadFixture(registeredLogFixture);
      await expect(ledger.connect(logAdmin).registerLog(LOG_ID, other.address, "again", "330000"))
        .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerLogExists")
        .withArgs(LOG_ID);
    });

    it("refuses the zero anchorer", async function () {
      const { ledger, logAdmin } = await loadFixture(deployFixture);
      await expect(ledger.connect(logAdmin).registerLog(LOG_ID, ethers.ZeroAddress, LOG_NAME, ADMIN_CODE))
        .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerInvalidAnchorer")
        .withArgs(ethers.ZeroAddress);
    });

    it("refuses the zero log id", async function () {
      const { ledger, logAdmin, anchorer } = await loadFixture(deployFixture);
      await expect(ledger.connect(logAdmin).registerLog(ethers.ZeroHash, anchorer.address, LOG_NAME, ADMIN_CODE))
        .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerInvalidLogId")
        .withArgs(ethers.ZeroHash);
    });
  });

  describe("setAnchorer", function () {
    it("changes the anchorer and emits AnchorerChanged", async function () {
      const { ledger, logAdmin, anchorer, newAnchorer } = await loadFixture(anchoredLogFixture);
      await expect(ledger.connect(logAdmin).setAnchorer(LOG_ID, newAnchorer.address))
        .to.emit(ledger, "AnchorerChanged")
        .withArgs(LOG_ID, anchorer.address, newAnchorer.address);
      expect((await ledger.logInfo(LOG_ID))[0]).to.equal(newAnchorer.address);

      await expect(ledger.connect(anchorer).anchor(LOG_ID, 12, root(12), consistency(10, 12)))
        .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerUnauthorizedAnchorer")
        .withArgs(LOG_ID, anchorer.address);
      await expect(ledger.connect(newAnchorer).anchor(LOG_ID, 12, root(12), consistency(10, 12)))
        .to.emit(ledger, "CheckpointAnchored")
        .withArgs(LOG_ID, 12, root(12), 10);
    });

    it("emits nothing when the anchorer stays the same", async function () {
      const { ledger, logAdmin, anchorer } = await loadFixture(registeredLogFixture);
      await expect(ledger.connect(logAdmin).setAnchorer(LOG_ID, anchorer.address)).not.to.emit(
        ledger,
        "AnchorerChanged"
      );
    });

    it("refuses an account without the log admin role", async function () {
      const { ledger, anchorer, other } = await loadFixture(registeredLogFixture);
      await expect(ledger.connect(anchorer).setAnchorer(LOG_ID, other.address))
        .to.be.revertedWithCustomError(ledger, "AccessControlUnauthorizedAccount")
        .withArgs(anchorer.address, LOG_ADMIN_ROLE);
    });

    it("refuses an unknown log", async function () {
      const { ledger, logAdmin, other } = await loadFixture(registeredLogFixture);
      await expect(ledger.connect(logAdmin).setAnchorer(UNKNOWN_LOG_ID, other.address))
        .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerUnknownLog")
        .withArgs(UNKNOWN_LOG_ID);
    });

    it("refuses the zero anchorer", async function () {
      const { ledger, logAdmin } = await loadFixture(registeredLogFixture);
      await expect(ledger.connect(logAdmin).setAnchorer(LOG_ID, ethers.ZeroAddress))
        .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerInvalidAnchorer")
        .withArgs(ethers.ZeroAddress);
    });
  });

  describe("setLogNoteKey", function () {
    const NOTE_KEY = ethers.id("an Ed25519 public key");
    const NEW_NOTE_KEY = ethers.id("another Ed25519 public key");

    it("sets the key, emits LogNoteKeyChanged, and logNoteKey reads it", async function () {
      const { ledger, logAdmin } = await loadFixture(registeredLogFixture);
      expect(await ledger.logNoteKey(LOG_ID)).to.equal(ethers.ZeroHash);
      await expect(ledger.connect(logAdmin).setLogNoteKey(LOG_ID, NOTE_KEY))
        .to.emit(ledger, "LogNoteKeyChanged")
        .withArgs(LOG_ID, ethers.ZeroHash, NOTE_KEY);
      expect(await ledger.logNoteKey(LOG_ID)).to.equal(NOTE_KEY);
      await expect(ledger.connect(logAdmin).setLogNoteKey(LOG_ID, NEW_NOTE_KEY))
        .to.emit(ledger, "LogNoteKeyChanged")
        .withArgs(LOG_ID, NOTE_KEY, NEW_NOTE_KEY);
      expect(await ledger.logNoteKey(OTHER_LOG_ID)).to.equal(ethers.ZeroHash);
    });

    it("emits nothing when the key stays the same", async function () {
      const { ledger, logAdmin } = await loadFixture(registeredLogFixture);
      await ledger.connect(logAdmin).setLogNoteKey(LOG_ID, NOTE_KEY);
      await expect(ledger.connect(logAdmin).setLogNoteKey(LOG_ID, NOTE_KEY)).not.to.emit(ledger, "LogNoteKeyChanged");
    });

    it("refuses an account without the log admin role, the log's anchorer included", async function () {
      const { ledger, anchorer } = await loadFixture(registeredLogFixture);
      await expect(ledger.connect(anchorer).setLogNoteKey(LOG_ID, NOTE_KEY))
        .to.be.revertedWithCustomError(ledger, "AccessControlUnauthorizedAccount")
        .withArgs(anchorer.address, LOG_ADMIN_ROLE);
    });

    it("refuses an unknown log and the zero key", async function () {
      const { ledger, logAdmin } = await loadFixture(registeredLogFixture);
      await expect(ledger.connect(logAdmin).setLogNoteKey(UNKNOWN_LOG_ID, NOTE_KEY))
        .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerUnknownLog")
        .withArgs(UNKNOWN_LOG_ID);
      await expect(ledger.connect(logAdmin).setLogNoteKey(LOG_ID, ethers.ZeroHash))
        .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerInvalidNoteKey")
        .withArgs(LOG_ID, ethers.ZeroHash);
    });
  });

  describe("anchor", function () {
    describe("the first checkpoint", function () {
      it("needs no proof, and is stored with its block's time and number", async function () {
        const { ledger, anchorer } = await loadFixture(registeredLogFixture);
        const tx = ledger.connect(anchorer).anchor(LOG_ID, 10, root(10), []);
        await expect(tx).to.emit(ledger, "CheckpointAnchored").withArgs(LOG_ID, 10, root(10), 0);
        const block = await ethers.provider.getBlock((await (await tx).wait())!.blockNumber);
        expect(await ledger.latest(LOG_ID)).to.deep.equal([10n, root(10)]);
        expect(await ledger.rootAt(LOG_ID, 10)).to.equal(root(10));
        expect(await ledger.checkpointAt(LOG_ID, 10)).to.deep.equal([
          root(10),
          BigInt(block!.timestamp),
          BigInt(block!.number),
          0n,
        ]);
      });

      it("refuses a consistency proof", async function () {
        const { ledger, anchorer } = await loadFixture(registeredLogFixture);
        await expect(ledger.connect(anchorer).anchor(LOG_ID, 10, root(10), [root(5)]))
          .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerUnexpectedProof")
          .withArgs(LOG_ID, 1);
      });

      it("refuses size 0", async function () {
        const { ledger, anchorer } = await loadFixture(registeredLogFixture);
        await expect(ledger.connect(anchorer).anchor(LOG_ID, 0, hex(merkle.EMPTY_ROOT), []))
          .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerTreeNotGrowing")
          .withArgs(LOG_ID, 0, 0);
      });

      it("refuses the zero root", async function () {
        const { ledger, anchorer } = await loadFixture(registeredLogFixture);
        await expect(ledger.connect(anchorer).anchor(LOG_ID, 10, ethers.ZeroHash, []))
          .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerInvalidRootHash")
          .withArgs(LOG_ID, ethers.ZeroHash);
      });

      it("accepts the largest 64-bit size and refuses larger ones", async function () {
        const { ledger, anchorer } = await loadFixture(registeredLogFixture);
        await expect(ledger.connect(anchorer).anchor(LOG_ID, UINT64_MAX + 1n, root(10), []))
          .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerTreeSizeTooLarge")
          .withArgs(LOG_ID, UINT64_MAX + 1n);
        await ledger.connect(anchorer).anchor(LOG_ID, UINT64_MAX, root(10), []);
        expect(await ledger.latest(LOG_ID)).to.deep.equal([UINT64_MAX, root(10)]);
      });
    });

    describe("a later checkpoint", function () {
      it("is accepted with the consistency proof from the last anchored one", async function () {
        const { ledger, anchorer } = await loadFixture(anchoredLogFixture);
        await expect(ledger.connect(anchorer).anchor(LOG_ID, 17, root(17), consistency(10, 17)))
          .to.emit(ledger, "CheckpointAnchored")
          .withArgs(LOG_ID, 17, root(17), 10);
        expect(await ledger.latest(LOG_ID)).to.deep.equal([17n, root(17)]);
        expect((await ledger.checkpointAt(LOG_ID, 17))[3]).to.equal(10n);
        expect(await ledger.rootAt(LOG_ID, 10)).to.equal(root(10));
      });

      it("refuses a shrinking tree", async function () {
        const { ledger, anchorer } = await loadFixture(anchoredLogFixture);
        await expect(ledger.connect(anchorer).anchor(LOG_ID, 9, root(9), []))
          .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerTreeNotGrowing")
          .withArgs(LOG_ID, 10, 9);
      });

      it("refuses the same size again, even with the same root", async function () {
        const { ledger, anchorer } = await loadFixture(anchoredLogFixture);
        await expect(ledger.connect(anchorer).anchor(LOG_ID, 10, root(10), []))
          .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerTreeNotGrowing")
          .withArgs(LOG_ID, 10, 10);
      });

      it("refuses a size beyond 64 bits", async function () {
        const { ledger, anchorer } = await loadFixture(anchoredLogFixture);
        await expect(ledger.connect(anchorer).anchor(LOG_ID, 2n ** 64n, root(11), consistency(10, 11)))
          .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerTreeSizeTooLarge")
          .withArgs(LOG_ID, 2n ** 64n);
      });

      it("refuses the zero root", async function () {
        const { ledger, anchorer } = await loadFixture(anchoredLogFixture);
        await expect(ledger.connect(anchorer).anchor(LOG_ID, 11, ethers.ZeroHash, consistency(10, 11)))
          .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerInvalidRootHash")
          .withArgs(LOG_ID, ethers.ZeroHash);
      });
    });

    describe("a rewritten history", function () {
      // Tree "a" holds the anchored 10 leaves; tree "forged" is "a" with leaf 3 replaced.
      const forged = leaves(16);
      forged[3] = leafBytes(3, "forged");
      const forgedRoot = (size: number) => hex(merkle.rootHash(forged.slice(0, size)));
      const forgedConsistency = (oldSize: number, newSize: number) =>
        hexProof(merkle.consistencyProof(oldSize, forged.slice(0, newSize)));

      it("is refused: a valid proof that starts from a different old tree", async function () {
        const { ledger, anchorer } = await loadFixture(anchoredLogFixture);
        const proof = forgedConsistency(10, 16);
        // The proof is sound for the forged tree …
        expect(
          merkle.verifyConsistency(
            10,
            16,
            ethers.getBytes(forgedRoot(10)),
            ethers.getBytes(forgedRoot(16)),
            proof.map((p) => ethers.getBytes(p))
          )
        ).to.equal(true);
        // … but not from what the chain holds.
        await expect(ledger.connect(anchorer).anchor(LOG_ID, 16, forgedRoot(16), proof))
          .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerInconsistentCheckpoint")
          .withArgs(LOG_ID, 10, root(10), 16, forgedRoot(16));
      });

      it("is refused: the honest new root with the proof of a different tree", async function () {
        const { ledger, anchorer } = await loadFixture(anchoredLogFixture);
        await expect(ledger.connect(anchorer).anchor(LOG_ID, 16, root(16), forgedConsistency(10, 16)))
          .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerInconsistentCheckpoint")
          .withArgs(LOG_ID, 10, root(10), 16, root(16));
      });

      it("is refused: a new root that keeps the anchored prefix but with the proof of the honest tree", async function () {
        const { ledger, anchorer } = await loadFixture(anchoredLogFixture);
        // Tree "a" up to 10, then different leaves: the honest proof does not lead to it.
        const branched = [...leaves(10), ...leaves(16, "branch").slice(10)];
        const branchedRoot = hex(merkle.rootHash(branched));
        await expect(ledger.connect(anchorer).anchor(LOG_ID, 16, branchedRoot, consistency(10, 16)))
          .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerInconsistentCheckpoint")
          .withArgs(LOG_ID, 10, root(10), 16, branchedRoot);
        // With its own proof that tree does extend the anchored one: it is a valid future.
        await expect(
          ledger.connect(anchorer).anchor(LOG_ID, 16, branchedRoot, hexProof(merkle.consistencyProof(10, branched)))
        ).to.emit(ledger, "CheckpointAnchored");
      });

      it("is refused: a proof from another old size", async function () {
        const { ledger, anchorer } = await loadFixture(anchoredLogFixture);
        await expect(ledger.connect(anchorer).anchor(LOG_ID, 16, root(16), consistency(9, 16)))
          .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerInconsistentCheckpoint")
          .withArgs(LOG_ID, 10, root(10), 16, root(16));
      });

      it("is refused: an empty, a truncated, an extended or a modified proof", async function () {
        const { ledger, anchorer } = await loadFixture(anchoredLogFixture);
        const proof = consistency(10, 16);
        const bad = [
          [],
          proof.slice(0, -1),
          [...proof, root(10)],
          proof.map((p, i) => (i === 1 ? hex(flipBit(ethers.getBytes(p), 100)) : p)),
        ];
        for (const badProof of bad) {
          await expect(ledger.connect(anchorer).anchor(LOG_ID, 16, root(16), badProof))
            .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerInconsistentCheckpoint")
            .withArgs(LOG_ID, 10, root(10), 16, root(16));
        }
        expect(await ledger.latest(LOG_ID)).to.deep.equal([10n, root(10)]);
      });
    });

    describe("authorization", function () {
      it("refuses any account but the log's anchorer, admins included", async function () {
        const { ledger, admin, logAdmin, other } = await loadFixture(anchoredLogFixture);
        for (const account of [other, admin, logAdmin]) {
          await expect(ledger.connect(account).anchor(LOG_ID, 11, root(11), consistency(10, 11)))
            .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerUnauthorizedAnchorer")
            .withArgs(LOG_ID, account.address);
        }
      });

      it("refuses an unknown log", async function () {
        const { ledger, anchorer } = await loadFixture(anchoredLogFixture);
        await expect(ledger.connect(anchorer).anchor(UNKNOWN_LOG_ID, 1, root(1), []))
          .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerUnknownLog")
          .withArgs(UNKNOWN_LOG_ID);
      });
    });

    describe("when paused", function () {
      async function pausedFixture() {
        const fixture = await anchoredLogFixture();
        await fixture.ledger.connect(fixture.admin).pause();
        return fixture;
      }

      it("refuses to anchor", async function () {
        const { ledger, anchorer } = await loadFixture(pausedFixture);
        await expect(
          ledger.connect(anchorer).anchor(LOG_ID, 11, root(11), consistency(10, 11))
        ).to.be.revertedWithCustomError(ledger, "EnforcedPause");
      });

      it("still registers logs, changes anchorers and answers views", async function () {
        const { ledger, logAdmin, other, newAnchorer } = await loadFixture(pausedFixture);
        await expect(ledger.connect(logAdmin).registerLog(OTHER_LOG_ID, other.address, "x", "330000")).to.emit(
          ledger,
          "LogRegistered"
        );
        await expect(ledger.connect(logAdmin).setAnchorer(LOG_ID, newAnchorer.address)).to.emit(
          ledger,
          "AnchorerChanged"
        );
        expect(await ledger.latest(LOG_ID)).to.deep.equal([10n, root(10)]);
      });

      it("anchors again once unpaused", async function () {
        const { ledger, admin, anchorer } = await loadFixture(pausedFixture);
        await expect(ledger.connect(admin).unpause()).to.emit(ledger, "Unpaused").withArgs(admin.address);
        await expect(ledger.connect(anchorer).anchor(LOG_ID, 11, root(11), consistency(10, 11))).to.emit(
          ledger,
          "CheckpointAnchored"
        );
      });
    });
  });

  describe("pause and unpause", function () {
    it("are for the admin, and emit Paused and Unpaused", async function () {
      const { ledger, admin } = await loadFixture(deployFixture);
      await expect(ledger.connect(admin).pause()).to.emit(ledger, "Paused").withArgs(admin.address);
      expect(await ledger.paused()).to.equal(true);
      await expect(ledger.connect(admin).unpause()).to.emit(ledger, "Unpaused").withArgs(admin.address);
      expect(await ledger.paused()).to.equal(false);
    });

    it("refuse accounts without the admin role, log admins and anchorers included", async function () {
      const { ledger, admin, logAdmin, anchorer } = await loadFixture(registeredLogFixture);
      for (const account of [logAdmin, anchorer]) {
        await expect(ledger.connect(account).pause())
          .to.be.revertedWithCustomError(ledger, "AccessControlUnauthorizedAccount")
          .withArgs(account.address, DEFAULT_ADMIN_ROLE);
      }
      await ledger.connect(admin).pause();
      await expect(ledger.connect(logAdmin).unpause())
        .to.be.revertedWithCustomError(ledger, "AccessControlUnauthorizedAccount")
        .withArgs(logAdmin.address, DEFAULT_ADMIN_ROLE);
    });

    it("change state only once: pausing twice or unpausing when running reverts", async function () {
      const { ledger, admin } = await loadFixture(deployFixture);
      await expect(ledger.connect(admin).unpause()).to.be.revertedWithCustomError(ledger, "ExpectedPause");
      await ledger.connect(admin).pause();
      await expect(ledger.connect(admin).pause()).to.be.revertedWithCustomError(ledger, "EnforcedPause");
    });
  });

  describe("views", function () {
    it("logInfo and latest refuse an unknown log", async function () {
      const { ledger } = await loadFixture(anchoredLogFixture);
      await expect(ledger.logInfo(UNKNOWN_LOG_ID))
        .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerUnknownLog")
        .withArgs(UNKNOWN_LOG_ID);
      await expect(ledger.latest(UNKNOWN_LOG_ID))
        .to.be.revertedWithCustomError(ledger, "ProvenanceLedgerUnknownLog")
        .withArgs(UNKNOWN_LOG_ID);
    });

    it("rootAt, checkpointAt and verifyInclusion answer zero or false for what was never anchored", async function () {
      const { ledger } = await loadFixture(anchoredLogFixture);
      const tree = leaves(10);
      const proof = hexProof(merkle.inclusionProof(4, tree.slice(0, 9)));
      const leafHash = hex(merkle.hashLeaf(tree[4]));
      expect(await ledger.rootAt(LOG_ID, 9)).to.equal(ethers.ZeroHash);
      expect(await ledger.rootAt(UNKNOWN_LOG_ID, 10)).to.equal(ethers.ZeroHash);
      expect(await ledger.checkpointAt(LOG_ID, 9)).to.deep.equal([ethers.ZeroHash, 0n, 0n, 0n]);
      expect(await ledger.checkpointAt(UNKNOWN_LOG_ID, 10)).to.deep.equal([ethers.ZeroHash, 0n, 0n, 0n]);
      // A valid proof for size 9, which was never anchored.
      expect(await ledger.verifyInclusion(LOG_ID, 9, 4, leafHash, proof)).to.equal(false);
      expect(await ledger.verifyInclusion(UNKNOWN_LOG_ID, 10, 4, leafHash, proof)).to.equal(false);
    });

    it("verifyInclusion answers false, without reverting, for malformed proofs", async function () {
      const { ledger } = await loadFixture(anchoredLogFixture);
      const tree = leaves(10);
      const proof = hexProof(merkle.inclusionProof(4, tree));
      const leafHash = hex(merkle.hashLeaf(tree[4]));
      expect(await ledger.verifyInclusion(LOG_ID, 10, 4, leafHash, proof)).to.equal(true);
      expect(await ledger.verifyInclusion(LOG_ID, 10, 10, leafHash, proof)).to.equal(false);
      expect(await ledger.verifyInclusion(LOG_ID, 10, 2n ** 256n - 1n, leafHash, proof)).to.equal(false);
      expect(await ledger.verifyInclusion(LOG_ID, 10, 4, leafHash, proof.slice(1))).to.equal(false);
      expect(await ledger.verifyInclusion(LOG_ID, 10, 4, leafHash, [...proof, leafHash])).to.equal(false);
      expect(await ledger.verifyInclusion(LOG_ID, 10, 5, leafHash, proof)).to.equal(false);
      expect(await ledger.verifyInclusion(LOG_ID, 10, 4, hex(merkle.hashLeaf(tree[5])), proof)).to.equal(false);
    });
  });

  describe("a history of 30 checkpoints of random growth", function () {
    it("is accepted, and latest, rootAt, checkpointAt and verifyInclusion agree with server/merkle", async function () {
      this.timeout(300_000);
      const growth = fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 30, maxLength: 30 });
      await fc.assert(
        fc.asyncProperty(growth, fc.integer({ min: 0, max: 2 ** 31 - 1 }), async (steps, pick) => {
          const { ledger, anchorer } = await loadFixture(registeredLogFixture);
          const all = leaves(
            steps.reduce((a, b) => a + b, 0),
            "history"
          );
          const checkpoints: Array<{ size: number; root: string; timestamp: bigint; block: bigint; previous: number }> =
            [];
          let previous = 0;
          for (const step of steps) {
            const size = previous + step;
            const tree = all.slice(0, size);
            const newRoot = hex(merkle.rootHash(tree));
            const proof = hexProof(merkle.consistencyProof(previous, tree));
            await time.increase(60 + (step % 7)); // blocks minutes apart, like a checkpointer
            const tx = ledger.connect(anchorer).anchor(LOG_ID, size, newRoot, proof);
            await expect(tx).to.emit(ledger, "CheckpointAnchored").withArgs(LOG_ID, size, newRoot, previous);
            const receipt = (await (await tx).wait())!;
            const block = (await ethers.provider.getBlock(receipt.blockNumber))!;
            checkpoints.push({
              size,
              root: newRoot,
              timestamp: BigInt(block.timestamp),
              block: BigInt(block.number),
              previous,
            });
            previous = size;
          }

          const last = checkpoints[checkpoints.length - 1];
          expect(await ledger.latest(LOG_ID)).to.deep.equal([BigInt(last.size), last.root]);

          // Walk the history back from latest through previousTreeSize.
          const walked: number[] = [];
          for (let size = last.size; size !== 0; ) {
            walked.push(size);
            size = Number((await ledger.checkpointAt(LOG_ID, size))[3]);
          }
          expect(walked.reverse()).to.deep.equal(checkpoints.map((c) => c.size));

          let turn = pick;
          for (const c of checkpoints) {
            expect(await ledger.rootAt(LOG_ID, c.size)).to.equal(c.root);
            expect(await ledger.checkpointAt(LOG_ID, c.size)).to.deep.equal([
              c.root,
              c.timestamp,
              c.block,
              BigInt(c.previous),
            ]);
            const tree = all.slice(0, c.size);
            // The first, the last and one more leaf of each checkpoint.
            for (const index of [0, c.size - 1, turn++ % c.size]) {
              const leafHash = merkle.hashLeaf(tree[index]);
              const proof = merkle.inclusionProof(index, tree);
              expect(merkle.verifyInclusion(index, c.size, leafHash, proof, ethers.getBytes(c.root))).to.equal(true);
              expect(await ledger.verifyInclusion(LOG_ID, c.size, index, hex(leafHash), hexProof(proof))).to.equal(
                true
              );
            }
            // A size between two checkpoints was never anchored: no root, no inclusion.
            if (c.size - c.previous > 1) {
              const size = c.size - 1;
              const proof = merkle.inclusionProof(0, tree.slice(0, size));
              expect(await ledger.rootAt(LOG_ID, size)).to.equal(ethers.ZeroHash);
              expect(
                await ledger.verifyInclusion(LOG_ID, size, 0, hex(merkle.hashLeaf(tree[0])), hexProof(proof))
              ).to.equal(false);
            }
          }
        }),
        { numRuns: 3, seed: 330102 }
      );
    });
  });
});
