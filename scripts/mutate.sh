#!/usr/bin/env bash
# The mutation run: plants each small bug of tests/mutations/ in turn into a copy of the
# committed tree, rebuilds, runs the suite, and says whether the suite noticed (docs/testing.md).
#
#   scripts/mutate.sh [--only NAME]... [-R REGEX] [-E REGEX] [--list]
#
#   --only NAME    run this mutation only (repeatable); NAME is tests/mutations/NAME.mut
#   -R / -E REGEX  passed to ctest: run only / exclude the tests whose names match (the suite
#                  without its slow parts is a quicker first pass; the verdicts count only what ran)
#   --list         print the mutations and what each breaks, then exit
#
# Work happens in build-mutate/ (kept between runs: an unchanged file is never rewritten, so
# each mutation recompiles only the file it touches): tree/ is HEAD's files, build/ its build,
# logs/<name>.log the build and ctest output of each mutation. Uncommitted changes, including
# uncommitted mutations, are not part of the run. The suite must pass on the unmutated copy
# first. Environment: BUILD_JOBS (build and ctest parallelism, default nproc), TEST_TIMEOUT
# (seconds per test, default 300: a mutation that hangs a test is killed by the timeout).
#
# Prints a table (mutation, what it breaks, tests failed, verdict) and exits 1 when any
# mutation survived, did not apply or did not build, 2 on a usage error or a failing baseline.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$root/build-mutate"
jobs="${BUILD_JOBS:-$(nproc)}"
timeout="${TEST_TIMEOUT:-300}"
only=()
filter=()
list=0
usage() { sed -n '5,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only+=("${2:?--only needs a mutation name}"); shift 2 ;;
    -R|-E) filter+=("$1" "${2:?$1 needs a regular expression}"); shift 2 ;;
    --list) list=1; shift ;;
    *) usage ;;
  esac
done

tree="$work/tree"
build="$work/build"
logs="$work/logs"
start=$SECONDS

# ---- the copy: HEAD's files, rewriting only those that differ so that make sees no change
rev=$(git -C "$root" rev-parse --short HEAD) || exit 2
mkdir -p "$tree" "$logs"
rm -rf "$work/export"
mkdir -p "$work/export"
git -C "$root" archive --format=tar HEAD | tar -x -C "$work/export" || exit 2
(cd "$work/export" && find . -type f -o -type l) | while IFS= read -r f; do
  if ! cmp -s "$work/export/$f" "$tree/$f"; then
    mkdir -p "$(dirname "$tree/$f")"
    rm -f "$tree/$f"
    cp -P "$work/export/$f" "$tree/$f"
  fi
done
(cd "$tree" && find . -type f -o -type l) | while IFS= read -r f; do
  [ -e "$work/export/$f" ] || [ -L "$work/export/$f" ] || rm -f "$tree/$f"
done
rm -rf "$work/export"
# The tests find the shared fixtures next to the source tree (CMakeLists.txt: ../shared).
if [ -d "$root/../shared" ] && [ ! -e "$work/shared" ]; then ln -s "$(cd "$root/../shared" && pwd)" "$work/shared"; fi

mutations=()
if [ ${#only[@]} -gt 0 ]; then
  for name in "${only[@]}"; do
    [ -f "$tree/tests/mutations/$name.mut" ] || { echo "mutate.sh: no committed mutation '$name' (see --list)" >&2; exit 2; }
    mutations+=("$name")
  done
else
  for f in "$tree"/tests/mutations/*.mut; do [ -e "$f" ] && mutations+=("$(basename "$f" .mut)"); done
fi
[ ${#mutations[@]} -gt 0 ] || { echo "mutate.sh: no mutations in tests/mutations/ at $rev" >&2; exit 2; }
breaks_of() { sed -n 's/^# breaks: //p' "$tree/tests/mutations/$1.mut" | head -n 1; }
if [ "$list" -eq 1 ]; then
  for m in "${mutations[@]}"; do printf '%-28s %s\n' "$m" "$(breaks_of "$m")"; done
  exit 0
fi
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no)" ]; then
  echo "mutate.sh: uncommitted changes are not part of this run (it mutates $rev as committed)" >&2
fi

# ---- applying one mutation: a literal find/replace in one file that must match exactly once;
# exits non-zero, leaving the file as it was, when the mutation does not apply.
apply() {
  python3 - "$tree" "$tree/tests/mutations/$1.mut" <<'PY'
import sys
tree, spec = sys.argv[1], sys.argv[2]
target, blocks, current = None, {}, None
for line in open(spec).read().split("\n"):
    if current is None and line.startswith("file: "):
        target = line[len("file: "):].strip()
    elif line in ("--- find", "--- replace"):
        current = line[4:]
        blocks[current] = []
    elif current is not None:
        blocks[current].append(line)
    elif line.strip() and not line.startswith("#"):
        sys.exit(f"{spec}: unexpected line {line!r} before '--- find'")
def text(name):
    lines = blocks.get(name, [])
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines)
find, replace = text("find"), text("replace")
if not target or not find or "replace" not in blocks:
    sys.exit(f"{spec}: needs 'file:', '--- find' and '--- replace'")
source = open(f"{tree}/{target}").read()
count = source.count(find)
if count != 1:
    print(f"the find text occurs {count} times in {target}, not once", file=sys.stderr)
    sys.exit(3)
open(f"{tree}/{target}", "w").write(source.replace(find, replace))
PY
}

run_suite() {  # run_suite LOG: prints the number of failed tests and the number run
  (cd "$build" && ctest -j"$jobs" --timeout "$timeout" ${filter[@]+"${filter[@]}"}) >>"$1" 2>&1
  local summary
  summary=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$1" | tail -n 1)
  [ -n "$summary" ] || { echo "? ?"; return; }
  echo "$summary" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1 \2/'
}

build_copy() {  # build_copy LOG
  cmake -S "$tree" -B "$build" -DCMAKE_BUILD_TYPE=Release >>"$1" 2>&1 &&
    cmake --build "$build" -j"$jobs" >>"$1" 2>&1
}

# ---- the baseline: the unmutated copy must build and pass, or no verdict means anything
echo "mutate.sh: building $rev in $tree and running the suite unmutated" >&2
base_log="$logs/baseline.log"
: >"$base_log"
build_copy "$base_log" || { echo "mutate.sh: the unmutated tree does not build: $base_log" >&2; exit 2; }
read -r failed total < <(run_suite "$base_log")
if [ "$failed" != 0 ]; then
  echo "mutate.sh: the suite fails without any mutation ($failed of $total, $base_log): fix that first" >&2
  grep -E '^\s+[0-9]+ - ' "$base_log" >&2
  exit 2
fi
echo "mutate.sh: baseline passes ($total tests, $((SECONDS - start)) s)" >&2

# ---- the mutations
rows=()
bad=0
mutated=""
restore() { [ -n "$mutated" ] && cp "$work/original" "$tree/$mutated"; mutated=""; }
trap 'restore; exit 130' INT TERM
for m in "${mutations[@]}"; do
  t0=$SECONDS
  log="$logs/$m.log"
  : >"$log"
  echo "mutate.sh: $m" >&2
  failed="-"
  target=$(sed -n 's/^file: *//p' "$tree/tests/mutations/$m.mut" | head -n 1)
  if [ -z "$target" ] || [ ! -f "$tree/$target" ]; then
    echo "no file '$target' to mutate" >>"$log"
    verdict="does not apply"
  else
    cp "$tree/$target" "$work/original"
    if ! apply "$m" >>"$log" 2>&1; then
      verdict="does not apply"
    else
      mutated=$target
      if ! build_copy "$log"; then
        verdict="does not build"
      else
        read -r failed total < <(run_suite "$log")
        if [ "$failed" = "?" ]; then verdict="suite did not run"
        elif [ "$failed" -gt 0 ]; then verdict="killed"; failed="$failed of $total"
        else verdict="survived"; failed="0 of $total"
        fi
      fi
      restore
    fi
  fi
  [ "$verdict" = "killed" ] || bad=1
  rows+=("$m|$(breaks_of "$m")|$failed|$verdict|$((SECONDS - t0)) s")
  echo "mutate.sh: $m: $verdict ($failed failed)" >&2
done
trap - INT TERM

# ---- the table (Markdown, so that docs/testing.md can show it as is)
echo
echo "Mutation run of $rev, $(date -u +%Y-%m-%d), ${#mutations[@]} mutations, $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s${filter[*]:+, ctest ${filter[*]}}"
echo
echo "| mutation | what it breaks | tests failed | verdict | time |"
echo "|---|---|---|---|---|"
for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
exit "$bad"
