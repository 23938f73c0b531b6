#!/usr/bin/env bash
# The downtime gate of the pull-request job: summarise a preview digest, publish the summary, decide the exit code.
#
#   plan-check.sh DIGEST DOWNTIME_OK [OUT]
#
#   DIGEST       the output of `pulumi preview --json`
#   DOWNTIME_OK  "true" when the pull request carries the label that accepts downtime, else "false"
#   OUT          where the Markdown for the PR comment goes (default: plan-summary.md)
#
# The Markdown always starts with the marker line `<!-- fwcluster-plan-summary -->`, even when there is no usable
# digest: the comment step finds its earlier comment by that line, and a stale "no downtime" comment must be
# overwritten when a later push breaks the preview. The Markdown is also appended to $GITHUB_STEP_SUMMARY when set.
#
# Exit codes: 0 no downtime, or downtime the label accepts; 3 downtime without the label; 2 a usage error or no
# readable digest; any other code from `fwcluster plan-summary` is passed on.
set -uo pipefail

MARKER="<!-- fwcluster-plan-summary -->"
LABEL="${DOWNTIME_LABEL:-fireworks-downtime-ok}"

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: plan-check.sh DIGEST DOWNTIME_OK [OUT]" >&2
  exit 2
fi
digest=$1
downtime_ok=$2
out=${3:-plan-summary.md}
# Strict on purpose: a typo such as "True" or "yes" must not silently turn the gate off or on.
case "$downtime_ok" in
  true | false) ;;
  *)
    echo "plan-check.sh: DOWNTIME_OK must be true or false, not '$downtime_ok'" >&2
    exit 2
    ;;
esac

errors=$(mktemp)
trap 'rm -f "$errors"' EXIT

status=0
fwcluster plan-summary --fail-on-downtime "$digest" >"$out" 2>"$errors" || status=$?
cat "$errors" >&2

case "$status" in
  0) ;;
  3)
    if [ "$downtime_ok" = true ]; then
      {
        echo
        echo "> [!NOTE]"
        echo "> Downtime accepted: this pull request carries the label \`$LABEL\`."
      } >>"$out"
      echo "::notice title=Fireworks downtime accepted::the label $LABEL is set"
      status=0
    else
      {
        echo
        echo "> [!CAUTION]"
        echo "> This check fails because the plan takes a cluster down. If that is intended, add the label"
        echo "> \`$LABEL\` to the pull request: the check runs again and passes."
      } >>"$out"
      echo "::error title=Fireworks downtime::this plan takes a cluster down; add the label $LABEL to accept it"
    fi
    ;;
  *)
    # No summary came out (the preview crashed before printing its digest, or fwcluster is missing), so say so
    # under the marker instead of leaving the previous comment's plan in place.
    {
      echo "$MARKER"
      echo "### Fireworks clusters"
      echo
      echo "❌ **No plan summary:** \`fwcluster plan-summary\` could not read \`$digest\` (exit $status)."
      echo "The preview probably failed before it printed its digest; see the job log."
      echo
      echo '```'
      cat "$errors"
      echo '```'
    } >"$out"
    echo "::error title=Fireworks plan summary::no plan summary (fwcluster plan-summary exited $status)"
    ;;
esac

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  cat "$out" >>"$GITHUB_STEP_SUMMARY"
fi
exit "$status"
