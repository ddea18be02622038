// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IProvenanceLedger} from "../IProvenanceLedger.sol";

/**
 * @title VerifyInclusionGasProbe
 * @dev Benchmark helper only: the gas that a contract calling {IProvenanceLedger-verifyInclusion}
 * spends on that call (the external call included), measured with `gasleft()`. A transaction's
 * gas would add the intrinsic 21,000 and the calldata, which depend on the caller, not on the
 * ledger.
 */
contract VerifyInclusionGasProbe {
    /**
     * @dev Calls `ledger.verifyInclusion(...)` and returns its answer and the gas it used.
     */
    function measure(
        IProvenanceLedger ledger,
        bytes32 logId,
        uint256 treeSize,
        uint256 leafIndex,
        bytes32 leafHash,
        bytes32[] calldata proof
    ) external view returns (bool included, uint256 gasUsed) {
        uint256 before = gasleft();
        included = ledger.verifyInclusion(logId, treeSize, leafIndex, leafHash, proof);
        gasUsed = before - gasleft();
    }
}
