#!/bin/bash
# Submits the attribute array (SHARDS tasks, default 4) and a merge job that starts when every task has ended.
# Prints the two job ids. The variables of attribute.sbatch and merge.sbatch pass through (sbatch --export=ALL).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
shards=${SHARDS:-4}
array=$(sbatch --parsable --export=ALL --array="0-$((shards - 1))" "$here/attribute.sbatch")
array=${array%%;*}
merge=$(sbatch --parsable --export=ALL --dependency="afterany:$array" "$here/merge.sbatch")
echo "$array ${merge%%;*}"
