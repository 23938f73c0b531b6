# `fwcluster preflight --json` as Markdown for the pull-request comment: the verdict, the counts, and one line per
# check that did not pass. Run as: jq -r --arg spec FILE -f preflight.jq preflight.json
"#### AWS preflight of the deployed cluster",
"",
"\(if .ok then "✅ Passed" else "❌ **Failed**" end) on `\($spec)` (\(.counts | to_entries | map("\(.value) \(.key)") | join(", "))). It checks the AWS side of what is deployed now, not this pull request's changes, and does not block the merge.",
"",
(
  .findings[]
  | select(.status != "ok")
  | "- **\(.status)** `\(if (.field // "") == "" then .check else .field end)`: \(.message)"
    + (if (.remediation // "") != "" then " *Fix:* \(.remediation)" else "" end)
)
